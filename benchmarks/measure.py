"""Run a command and measure its wall time and the peak memory of its whole process tree."""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

MB = 1024 * 1024
SAMPLING_SHARE_WAIT = 4  # wait 4× the time a sample took: the sampler's share of one core stays under 1/5


@dataclass
class Run:
    """One measured command: wall seconds, peak memory (MB) and what it printed."""

    command: list[str]
    seconds: float
    returncode: int
    # CPU seconds (user + system) of the whole tree: much less swayed than wall time by other jobs sharing
    # the machine (each process's last sampling interval may be missed).
    cpu_seconds: float = 0.0
    # Peak over samples of the summed proportional set size of the tree: shared (forked, copy-on-write)
    # pages counted once, so a forked child holding the parent's torch costs only what it adds.
    peak_pss_mb: float = 0.0
    # Peak over samples of the summed RSS (counts shared pages once per process: an upper bound).
    peak_rss_sum_mb: float = 0.0
    # The largest single process of the tree as the kernel saw it (wait4's ru_maxrss): never missed by sampling,
    # but never below the measuring process's own size (Linux carries the high-water mark across fork+exec).
    max_process_rss_mb: float = 0.0
    output: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.returncode == 0

    def record(self) -> dict:
        """The run as JSON: measurements, pytest's last line, and the output's tail only when it failed."""
        data = asdict(self)
        data["command"] = " ".join(self.command[:8]) + (" ..." if len(self.command) > 8 else "")
        # pytest's last line ("50 passed in 3.2s") shows what was run, skipped or failed.
        data["summary"] = next((line.strip("= ") for line in reversed(self.output.splitlines())
                                if re.search(r"\d+ (passed|failed|skipped|error)", line)), "")
        data["output"] = "" if self.ok else self.output[-3000:]
        return data


class TreeSampler(threading.Thread):
    """Samples the memory of a process and all its descendants until stopped."""

    def __init__(self, pid: int, interval: float = 0.05, spacing: float = SAMPLING_SHARE_WAIT):
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.spacing = spacing
        self.peak_pss = 0
        self.peak_rss = 0
        # Last CPU time seen per process (pid, start time): a forked page that was never reaped still counts.
        self.cpu: dict[tuple[int, float], float] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            started = time.perf_counter()
            pss = rss = 0
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            for process in processes:
                try:
                    info = process.memory_full_info()
                    times = process.cpu_times()
                    self.cpu[(process.pid, process.create_time())] = times.user + times.system
                except psutil.Error:
                    # A child that ended between listing and reading: its memory is gone anyway.
                    continue
                pss += info.pss
                rss += info.rss
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_rss = max(self.peak_rss, rss)
            # Reading a process's memory map costs about 20 ms for a process holding torch and a model: a tree
            # of five such processes (the harness) would have this thread take most of a core from the command
            # it measures, and much more from a tree than from a single interpreter. Sampling is spaced so it
            # takes at most a fifth of one core, whatever the number of processes.
            self._halt.wait(max(self.interval, self.spacing * (time.perf_counter() - started)))

    def stop(self) -> None:
        """Stop sampling and wait for the thread."""
        self._halt.set()
        self.join()


def _kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL the command and every process under it (a page's, in a process group of its own, too): nothing it
    started goes on competing with the next measured command."""
    try:
        below = psutil.Process(process.pid).children(recursive=True)  # before the top dies and they move to init
    except psutil.Error:
        below = []
    process.kill()
    for child in below:
        with contextlib.suppress(psutil.Error):
            child.kill()


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 3600,
        sample_memory: bool = True, spacing: float = SAMPLING_SHARE_WAIT) -> Run:
    """Run `command`, timing it from spawn to exit; stdout and stderr are kept (bounded) for diagnosis.

    `spacing`: the sampler waits that many times a sample's duration between samples (0: every 50 ms, for a
    run whose wall time is not used, where missing no short-lived process matters more).
    """
    log_path = Path(cwd) / f".bench-log-{os.getpid()}-{time.monotonic_ns()}"
    with open(log_path, "w+b") as log:
        start = time.perf_counter()
        # No stdin, as the harness gives pages: a process forked after a read would see the parent's buffer again.
        process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT)
        sampler = TreeSampler(process.pid, spacing=spacing) if sample_memory else None
        if sampler:
            sampler.start()
        deadline = start + timeout
        while True:
            # wait4 (not Popen.wait) to get the tree's ru_maxrss along with the exit status.
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                _kill_tree(process)
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if sampler:
            sampler.stop()
        log.seek(0)
        output = log.read()[-20000:].decode("utf-8", "replace")
    log_path.unlink()
    return Run(
        command=command, seconds=seconds, returncode=process.returncode,
        # Sampling loses each process's last interval; wait4 misses what was never reaped: take the larger.
        cpu_seconds=max(usage.ru_utime + usage.ru_stime, sum(sampler.cpu.values()) if sampler else 0.0),
        peak_pss_mb=(sampler.peak_pss / MB) if sampler else 0.0,
        peak_rss_sum_mb=(sampler.peak_rss / MB) if sampler else 0.0,
        max_process_rss_mb=usage.ru_maxrss / 1024,  # Linux reports kilobytes
        output=output,
    )


def run_many(commands: list[list[str]], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run commands one after another (like `python page.py` per page); times and peaks are combined."""
    runs = [run(command, cwd, env) for command in commands]
    return Run(
        command=commands[0] + [f"... ({len(commands)} commands)"] if commands else [],
        seconds=sum(r.seconds for r in runs),
        cpu_seconds=sum(r.cpu_seconds for r in runs),
        returncode=next((r.returncode for r in runs if r.returncode), 0),
        peak_pss_mb=max((r.peak_pss_mb for r in runs), default=0.0),
        peak_rss_sum_mb=max((r.peak_rss_sum_mb for r in runs), default=0.0),
        max_process_rss_mb=max((r.max_process_rss_mb for r in runs), default=0.0),
        output="\n".join(r.output for r in runs if r.returncode)[-20000:],
    )


def alternate(first, second, repeat: int) -> tuple[list[Run], list[Run]]:
    """Run `first()` and `second()` alternately, `repeat` times each: a slow spell of a shared machine hits both."""
    firsts, seconds = [], []
    for _ in range(repeat):
        firsts.append(first())
        seconds.append(second())
    return firsts, seconds


def median_run(runs: list[Run]) -> Run:
    """The run of median wall time (the lower middle one of an even count)."""
    return sorted(runs, key=lambda r: r.seconds)[(len(runs) - 1) // 2]


def pair_records(firsts: list[Run], seconds: list[Run]) -> list[dict]:
    """Per alternating pair: both wall and CPU times and their ratios (None where a run failed)."""
    def ratio(a: float, b: float, ok: bool) -> float | None:
        return round(a / b, 3) if ok and b else None

    return [{"first_seconds": round(a.seconds, 3), "second_seconds": round(b.seconds, 3),
             "first_cpu_seconds": round(a.cpu_seconds, 3), "second_cpu_seconds": round(b.cpu_seconds, 3),
             "wall_ratio": ratio(a.seconds, b.seconds, a.ok and b.ok),
             "cpu_ratio": ratio(a.cpu_seconds, b.cpu_seconds, a.ok and b.ok)} for a, b in zip(firsts, seconds)]
