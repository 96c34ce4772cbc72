"""Targets of the issue as pass/fail on measured ratios, and the results as Markdown and JSON."""
from __future__ import annotations

import json
from pathlib import Path

LIMIT_RATIO = 1.1       # harness over all pages ≤ 1.1 × (one interpreter start + imports + Σ pages' own compute)
PER_PAGE_SHARE = 0.25   # N copies: each added page costs the harness ≤ 1/4 of what a `python page.py` costs
BARE_SPEEDUP = 3.0      # 50 pages: ≥ 3× faster than 50 separate `python page.py`
FLAT_MEMORY = 1.25      # peak memory at the largest N ≤ 1.25 × peak at the smallest N ("flat")


def _seconds(runs: dict, name: str, key: str = "seconds") -> float | None:
    """Seconds (wall, or `cpu_seconds`) of a run that succeeded, else None (a failed run proves no speed)."""
    r = runs.get(name)
    return r[key] if r and r["returncode"] == 0 else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def _limit_ratio(runs: dict, pairs: list[dict] | None, key: str) -> float | None:
    """harness / one interpreter: the median of the alternating pairs' ratios, else the ratio of the two runs.

    Against the limit, every pair counts: one failed run and there is no figure.
    """
    if pairs:
        ratios = [pair["wall_ratio" if key == "seconds" else "cpu_ratio"] for pair in pairs]
        return None if None in ratios else sorted(ratios)[(len(ratios) - 1) // 2]
    return _ratio(_seconds(runs, "harness", key), _seconds(runs, "one interpreter", key))


def targets(data: dict) -> list[dict]:
    """Each target: what was measured, the limit, and whether it passes (None: not measured)."""
    rows = []

    def add(name: str, value, limit: str, ok) -> None:
        rows.append({"target": name, "measured": value, "limit": limit, "pass": ok})

    sizes = data.get("scaling", {}).get("sizes", {})
    real = data.get("real_pages", {}).get("runs", {})
    if real:
        for key, label in (("seconds", "wall"), ("cpu_seconds", "CPU")):
            ratio = _limit_ratio(real, data["real_pages"].get("pairs"), key)
            add(f"the project's pages: harness / one interpreter ({label})", ratio, f"≤ {LIMIT_RATIO}",
                None if ratio is None else ratio <= LIMIT_RATIO)
    if sizes:
        largest, smallest = max(sizes, key=int), min(sizes, key=int)
        runs = sizes[largest]
        harness = _seconds(runs, "harness")
        pairs = data["scaling"].get("pairs", {}).get(largest)
        # Copies of one code-heavy page: one interpreter runs copies 2..N with every cache warm from copy 1,
        # while each page of the harness runs in a fresh process. Shown, but the limit is the real pages'.
        for key, label in (("seconds", "wall"), ("cpu_seconds", "CPU")):
            add(f"{largest} pages: harness / one interpreter ({label}; every copy after the first warm in one "
                "process)", _limit_ratio(runs, pairs, key), "informational", "info")
        if int(largest) > int(smallest):
            # "Cost must grow with the pages' own compute, not with interpreter starts and imports."
            added = int(largest) - int(smallest)

            def per_page(name: str) -> float | None:
                a, b = _seconds(sizes[largest], name), _seconds(sizes[smallest], name)
                return (a - b) / added if a is not None and b is not None else None

            share = _ratio(per_page("harness"), per_page("bare python per page"))
            add(f"cost of each added page: harness / bare python per page ({smallest} to {largest} pages)", share,
                f"≤ {PER_PAGE_SHARE}", None if share is None else share <= PER_PAGE_SHARE)
            add(f"cost of each added page: harness / one interpreter ({smallest} to {largest} pages)",
                _ratio(per_page("harness"), per_page("one interpreter")), "informational", "info")
        for key, label in (("seconds", "wall"), ("cpu_seconds", "CPU")):
            speedup = _ratio(_seconds(runs, "bare python per page", key), _seconds(runs, "harness", key))
            add(f"{largest} pages: bare python per page / harness ({label})", speedup, f"≥ {BARE_SPEEDUP}",
                None if speedup is None else speedup >= BARE_SPEEDUP)
        for peer in ("nbval", "nbmake"):
            if peer in runs:
                speedup = _ratio(_seconds(runs, peer), harness)
                add(f"{largest} pages: {peer} / harness", speedup, "> 1", None if speedup is None else speedup > 1)
        incremental = _ratio(_seconds(runs, "harness --changed-only (unchanged)"), harness)
        add(f"{largest} pages unchanged: --changed-only / full run", incremental, "< 1 (informational)",
            None if incremental is None else incremental < 1)
        if int(largest) > int(smallest):
            for key in ("peak_pss_mb", "peak_rss_sum_mb"):
                growth = _ratio(sizes[largest]["harness"][key], sizes[smallest]["harness"][key])
                add(f"memory {key}: {largest} pages / {smallest} page(s)", growth, f"≤ {FLAT_MEMORY}",
                    None if growth is None else growth <= FLAT_MEMORY)
    lab = data.get("checkpoint_pages", {}).get("sizes", {})
    for count, runs in lab.items():  # every copy loads a checkpoint; CPU from one sampled run of each side
        for key, label, pairs in (("seconds", "wall", data["checkpoint_pages"].get("pairs", {}).get(count)),
                                  ("cpu_seconds", "CPU", None)):
            ratio = _limit_ratio(runs, pairs, key)
            add(f"{count} checkpoint-loading pages: harness / one interpreter ({label})", ratio, f"≤ {LIMIT_RATIO}",
                None if ratio is None else ratio <= LIMIT_RATIO)
    split = data.get("checkpoint_pages", {}).get("xdist")
    if split:  # what two workers give on this machine: shown, no limit (it depends on the cores free)
        add(f"{split['pages']} checkpoint-loading pages: -n 2 / -n 0 (wall)", _limit_ratio({}, split["pairs"], "seconds"),
            "informational", "info")
    forked = data.get("checkpoint_pages", {}).get("forked")
    if forked:  # the simplest fresh process per page, without the harness: beside the harness's own ratio
        add(f"{forked['pages']} checkpoint-loading pages: a fork per page, no harness / one interpreter (wall)",
            _limit_ratio({}, forked["pairs"], "seconds"), "informational", "info")
    if len(lab) > 1:
        largest, smallest = max(lab, key=int), min(lab, key=int)
        growth = _ratio(lab[largest]["harness"]["peak_pss_mb"], lab[smallest]["harness"]["peak_pss_mb"])
        add(f"memory of checkpoint-loading pages: {largest} / {smallest}", growth, f"≤ {FLAT_MEMORY}",
            None if growth is None else growth <= FLAT_MEMORY)
    site = data.get("site", {})
    if "ours" in site:
        external = len(site["ours"]["external"])
        add("site: external requests of one page", external, "0", external == 0)
        ratio = _ratio(site["ours"]["bytes"]["total"], site["default_material"]["bytes"]["total"])
        add("site: bytes of one page / default Material (without its Google Fonts)", ratio, "informational", "info")
    return rows


def _fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def markdown(data: dict) -> str:
    """The results as Markdown tables: times, ratios, memory, the site, and the targets."""
    out = ["# Benchmark results", "", f"Run {data['when']} on {data['machine']}; "
           + ", ".join(f"{k} {v}" for k, v in data["versions"].items()), ""]
    sizes = data.get("scaling", {}).get("sizes", {})
    if sizes:
        names = list(next(iter(sizes.values())))
        out += ["## N copies of a code-heavy page: wall time (s)", "",
                "| N | " + " | ".join(names) + " | harness / one interpreter | same, CPU time | bare / harness"
                " | nbval / harness | nbmake / harness |",
                "|---:|" + "---:|" * (len(names) + 5)]
        all_pairs = data["scaling"].get("pairs", {})
        for n, runs in sizes.items():
            cells = [_fmt(_seconds(runs, name)) + ("" if runs[name]["returncode"] == 0 else " (failed)")
                     for name in names]
            h = _seconds(runs, "harness")
            cells += [_fmt(_limit_ratio(runs, all_pairs.get(n), "seconds")),
                      _fmt(_limit_ratio(runs, all_pairs.get(n), "cpu_seconds")),
                      _fmt(_ratio(_seconds(runs, "bare python per page"), h)),
                      _fmt(_ratio(_seconds(runs, "nbval"), h)), _fmt(_ratio(_seconds(runs, "nbmake"), h))]
            out.append(f"| {n} | " + " | ".join(cells) + " |")
        out += _pairs_table("Harness against one interpreter, pair by pair", all_pairs)
        out += ["", "## Memory: peak of the whole process tree (MB)", "",
                "PSS counts pages shared by fork once; RSS sum counts them per process; max process is wait4's ru_maxrss.", "",
                "| N | run | peak PSS | peak RSS sum | max process RSS |", "|---:|---|---:|---:|---:|"]
        for n, runs in sizes.items():
            for name, r in runs.items():
                out.append(f"| {n} | {name} | {r['peak_pss_mb']:.0f} | {r['peak_rss_sum_mb']:.0f} | {r['max_process_rss_mb']:.0f} |")
        out.append("")
    real = data.get("real_pages", {})
    if real.get("runs"):
        out += [f"## The project's pages ({real['pages']} pages with code)", "",
                "| run | wall s | CPU s | peak PSS MB | summary |", "|---|---:|---:|---:|---|"]
        for name, r in real["runs"].items():
            out.append(f"| {name} | {_fmt(r['seconds'])}{'' if r['returncode'] == 0 else ' (failed)'} | "
                       f"{_fmt(r['cpu_seconds'])} | {r['peak_pss_mb']:.0f} | {r.get('summary', '')} |")
        out += _pairs_table("The project's pages: harness against one interpreter, pair by pair",
                            {real["pages"]: real.get("pairs", [])})
        out.append("")
    elif real.get("error"):
        out += ["## The project's pages", "", f"Not measured: {real['error']}", ""]
    lab = _pairs_table("Checkpoint-loading pages (the offline lab): harness against one interpreter, pair by pair",
                       data.get("checkpoint_pages", {}).get("pairs", {}))
    out += lab + ([""] if lab else [])
    lab_sizes = data.get("checkpoint_pages", {}).get("sizes", {})
    if lab_sizes:
        out += ["## Checkpoint-loading pages: peak memory of the process tree (PSS, MB)", "",
                "| N | harness | one interpreter |", "|---:|---:|---:|"]
        out += [f"| {n} | {runs['harness']['peak_pss_mb']:.0f} | {runs['one interpreter']['peak_pss_mb']:.0f} |"
                for n, runs in lab_sizes.items()]
        out.append("")
    split = data.get("checkpoint_pages", {}).get("xdist")
    if split:
        out += [f"## {split['pages']} checkpoint-loading pages split by pytest-xdist: `-n 2` against `-n 0`", "",
                f"Peak memory (PSS, MB; one sampled run each): {split['-n 2']['peak_pss_mb']:.0f} with `-n 2`, "
                f"{split['-n 0']['peak_pss_mb']:.0f} with `-n 0`.", "",
                *_wall_pairs("-n 2", "-n 0", split["pairs"]), ""]
    forked = data.get("checkpoint_pages", {}).get("forked")
    if forked:
        out += [f"## {forked['pages']} checkpoint-loading pages, no harness: a fork per page against one interpreter",
                "", "The interpreter runs the first page itself, then forks one process per later page, each forked "
                "while the page before runs (benchmarks/baselines.py): the simplest fresh process per page.", "",
                *_wall_pairs("a fork per page", "one interpreter", forked["pairs"]), ""]
    site = data.get("site", {})
    if "ours" in site:
        out += [f"## The site (`mkdocs build --strict`: {site['build_seconds']:.1f} s)", "",
                f"Bytes a browser loads for `{site['page']}`:", "",
                "| site | HTML | CSS | JS | fonts | total | external requests |", "|---|---:|---:|---:|---:|---:|---|"]
        for label, key in (("this site", "ours"), ("default Material", "default_material")):
            b = site[key]["bytes"]
            ext = "<br>".join(site[key]["external"]) or "none"
            out.append(f"| {label} | {b['html']} | {b['css']} | {b['js']} | {b['fonts']} | {b['total']} | {ext} |")
        out.append("")
    elif site.get("error"):
        out += ["## The site", "", f"Not measured: {site['error']}", ""]
    out += ["## Targets", "", "| target | measured | limit | pass |", "|---|---:|---|---|"]
    for row in data["targets"]:
        verdict = {True: "pass", False: "FAIL", None: "not measured", "info": "–"}[row["pass"]]
        out.append(f"| {row['target']} | {_fmt(row['measured'])} | {row['limit']} | {verdict} |")
    return "\n".join(out) + "\n"


def _wall_pairs(first: str, second: str, pairs: list[dict]) -> list[str]:
    """A table of alternating pairs of two commands, `first` and `second`: each pair's wall times and ratio."""
    return [f"| pair | {first} s | {second} s | wall ratio |", "|---:|---:|---:|---:|",
            *(f"| {index} | {_fmt(pair['first_seconds'])} | {_fmt(pair['second_seconds'])} | "
              f"{_fmt(pair['wall_ratio'])} |" for index, pair in enumerate(pairs, start=1))]


def _pairs_table(title: str, pairs_by_n: dict) -> list[str]:
    """Each alternating harness / one-interpreter pair: the spread behind the medians of the targets."""
    if not any(pairs_by_n.values()):
        return []
    out = ["", f"## {title}", "",
           "Runs alternate (harness, one interpreter, harness, ...): the targets take the median pair's ratio.", "",
           "| N | pair | harness s | one interpreter s | wall ratio | harness CPU s | one interpreter CPU s | CPU ratio |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, pairs in pairs_by_n.items():
        for index, pair in enumerate(pairs, start=1):
            out.append(f"| {n} | {index} | {_fmt(pair['first_seconds'])} | {_fmt(pair['second_seconds'])} | "
                       f"{_fmt(pair['wall_ratio'])} | {_fmt(pair['first_cpu_seconds'])} | "
                       f"{_fmt(pair['second_cpu_seconds'])} | {_fmt(pair['cpu_ratio'])} |")
    return out


def write(data: dict, directory: Path) -> Path:
    """Write latest.json and latest.md into `directory`; returns the Markdown file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "latest.json").write_text(json.dumps(data, indent=2) + "\n")
    path = directory / "latest.md"
    path.write_text(markdown(data))
    return path
