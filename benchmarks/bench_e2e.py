"""W5 end to end: the sample region's notebooks, wall time and peak memory.

Measures, in a fresh temporary project root (nothing cached at the start):

1. ``accessibility run --region sample --notebook all`` — what ``make run`` does after
   set-up: generates the sample county, builds the networks, runs the four notebooks
   one after the other;
2. the same again, on cached data (sample and networks already there);
3. one county notebook (``facility_access``) on cached data;
4. ``accessibility batch sample --force`` with 1 and with 2 workers (the four notebooks
   of the one unit; the first alone, then the others side by side), and the batch again
   with nothing to do;
5. ``accessibility batch samples`` (two synthetic counties × four notebooks) with 1
   worker (data generated), then ``--force`` with 2 workers (data cached).

Peak memory is the largest sum of resident memory of the command and its children
(kernels, Dask workers), sampled every 0.1 s. Targets (docs/performance.md): one county
notebook on cached data < 30 s; ``make run`` on the sample < 3 min after set-up.

Usage: ``.venv/bin/python benchmarks/bench_e2e.py [--output benchmarks/results/e2e.json]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from accessibility.batch import descendants_rss

ROOT = Path(__file__).resolve().parents[1]
EXE = [sys.executable, "-m", "accessibility.cli"]


def measure(cmd: list[str], cwd: Path, log: Path | None = None) -> tuple[float, float, int]:
    """Wall seconds, peak MB (process tree) and exit status of a command; its output
    goes to ``log`` (appended) when given, else nowhere."""
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT if log else out)
    finally:
        if log is not None:
            out.close()
    peak = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            me = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not stop.is_set():
            try:
                own = me.memory_info().rss
            except psutil.Error:
                own = 0
            peak = max(peak, (own + descendants_rss(proc.pid)) / 2**20)
            stop.wait(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    code = proc.wait()
    stop.set()
    thread.join()
    return time.perf_counter() - t0, peak, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "e2e.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        root = Path(tmp)
        base = [*EXE, "--root", str(root), "-q"]
        steps = [
            (
                "run --notebook all, nothing cached",
                [*base, "run", "--region", "sample", "--notebook", "all"],
            ),
            (
                "run --notebook all, cached data",
                [*base, "run", "--region", "sample", "--notebook", "all"],
            ),
            ("one notebook (facility_access), cached data", [*base, "run", "--region", "sample"]),
            (
                "batch --force --jobs 1 (4 notebooks)",
                [*base, "batch", "sample", "--force", "--jobs", "1"],
            ),
            (
                "batch --force --jobs 2 (4 notebooks)",
                [*base, "batch", "sample", "--force", "--jobs", "2"],
            ),
            ("batch again, all up to date", [*base, "batch", "sample", "--jobs", "2"]),
            ("batch samples --jobs 1 (2 counties x 4)", [*base, "batch", "samples", "--jobs", "1"]),
            (
                "batch samples --force --jobs 2",
                [*base, "batch", "samples", "--force", "--jobs", "2"],
            ),
        ]
        for label, cmd in steps:
            seconds, peak, code = measure(cmd, ROOT)
            rows.append(
                {"step": label, "seconds": round(seconds, 2), "peak_mb": round(peak), "exit": code}
            )
            print(f"{label:<48} {seconds:8.1f} s  {peak:8.0f} MB  exit {code}", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0 if all(r["exit"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
