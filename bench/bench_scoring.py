"""Benchmark FACT-B scoring: ``python bench/bench_scoring.py`` (``make bench``).

(a) In memory, one core: questionnaires per second scoring a 1,000,000-row
    DataFrame (37 FACT-B items, 10% of answers missing), best of 5 runs, and
    the peak memory allocated while scoring (tracemalloc) as a multiple of
    the input DataFrame's size.
(b) Command line end to end on a 200,000-row CSV: ``python -m scoring score
    in.csv -o out.csv`` in a subprocess, wall time (best of 5) and peak RSS
    (``getrusage(RUSAGE_CHILDREN)`` in a small launcher process); then the
    start-up on its own: a bare interpreter, ``import scoring.cli`` (what
    ``python -m scoring`` loads before it reads anything), the heaviest
    top-level imports of a real run by ``python -X importtime``, and whether
    scipy, statsmodels or pandas were among them (they must not be).

Targets: (a) at least 5 million questionnaires/s; (b) at most 0.7 s.
"""

from __future__ import annotations

import os

# One core: set before NumPy loads any threaded library.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scoring.facit import score_frame  # noqa: E402
from scoring.instruments import FACTB_ITEM_CODES  # noqa: E402

MISSING = 0.10


def make_items(n: int, seed: int = 2108) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 5, size=(n, len(FACTB_ITEM_CODES))).astype(np.float64)
    values[rng.random(values.shape) < MISSING] = np.nan
    return values


def bench_in_memory(n: int, repeats: int) -> None:
    print(f"(a) in memory: score_frame on {n:,} forms x {len(FACTB_ITEM_CODES)} items, "
          f"{MISSING:.0%} missing, one core")  # fmt: skip
    df = pd.DataFrame(make_items(n), columns=list(FACTB_ITEM_CODES))
    variants = {
        "float64, NaN = missing": df,
        "nullable Int8": df.astype("Int8"),
    }
    for label, frame in variants.items():
        input_bytes = int(frame.memory_usage(index=True, deep=True).sum())
        score_frame(frame)  # warm up
        timings = [_timed(partial(score_frame, frame)) for _ in range(repeats)]
        best = min(wall for wall, _ in timings)
        cpu = min(cpu for _, cpu in timings)
        tracemalloc.start()
        score_frame(frame)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"    {label}: {n / best / 1e6:.2f} million questionnaires/s "
            f"({best * 1000:.0f} ms wall, {cpu * 1000:.0f} ms CPU, best of {repeats})"
        )
        print(
            f"      peak memory allocated while scoring {peak / 2**20:.0f} MiB = "
            f"{peak / input_bytes:.2f} x the input DataFrame ({input_bytes / 2**20:.0f} MiB)"
        )


def _timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def write_csv(path: Path, n: int) -> None:
    rng = np.random.default_rng(7)
    values = make_items(n, seed=7)
    df = pd.DataFrame(values, columns=list(FACTB_ITEM_CODES)).astype("Int8")
    df.insert(0, "patient_id", [f"E2108-{i:07d}" for i in range(n)])
    df.insert(1, "arm", rng.choice(["A", "B"], n))
    df.insert(2, "visit", rng.choice(["baseline", "6mo", "18mo"], n))
    df.to_csv(path, index=False)


# Runs in a small, fresh process: it starts the CLI and reports the CLI's own
# figures. Measuring from this (large) process would not work: Linux charges
# a vfork()ed child with its parent's peak RSS, so RUSAGE_CHILDREN here would
# report the 1M-row benchmark's memory, not the command's.
_LAUNCHER = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
rss = usage.ru_maxrss * 1024  # KiB on Linux
cpu = usage.ru_utime + usage.ru_stime
print(json.dumps({"wall": wall, "cpu": cpu, "rss": rss, "status": done.returncode,
                  "stderr": done.stderr}))
"""


def _launch(cmd: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *cmd],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    if result["status"] != 0:
        raise SystemExit(f"command failed ({result['status']}): {result['stderr']}")
    return result


def _top_imports(cmd: list[str]) -> list[tuple[str, float]]:
    """Top-level modules of ``cmd`` run under ``-X importtime``, by cumulative seconds."""
    done = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]], cwd=ROOT, capture_output=True, text=True, check=True
    )
    found = re.findall(r"^import time:\s+\d+ \|\s+(\d+) \| (\S+)$", done.stderr, re.MULTILINE)
    return sorted(((name, int(us) / 1e6) for us, name in found), key=lambda x: -x[1])


def bench_cli(n: int, repeats: int) -> None:
    print(f"(b) command line: python -m scoring score on a {n:,}-row CSV "
          f"(3 pass-through + 37 item columns, {MISSING:.0%} blank)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "forms.csv"
        out = Path(tmp) / "scores.csv"
        write_csv(src, n)
        cmd = [sys.executable, "-m", "scoring", "score", str(src), "-o", str(out)]
        runs = [_launch(cmd) for _ in range(repeats)]
        bare = min(_launch([sys.executable, "-c", "pass"])["wall"] for _ in range(3))
        startup = min(
            _launch([sys.executable, "-c", "import scoring.cli"])["wall"] for _ in range(3)
        )
        walls = [r["wall"] for r in runs]
        cpu = min(r["cpu"] for r in runs)
        peak = max(r["rss"] for r in runs)
        size = src.stat().st_size
        print(f"    input {size / 2**20:.1f} MiB, output {out.stat().st_size / 2**20:.1f} MiB")
        print(f"    wall time {min(walls):.2f} s (best of {repeats}; runs "
              f"{', '.join(f'{w:.2f}' for w in walls)} s)")  # fmt: skip
        print(f"    CPU time (user + system, all threads) {cpu:.2f} s (best run)")
        print(f"    peak RSS {peak / 2**20:.0f} MiB ({peak / size:.1f} x the CSV file)")
        print(f"    start-up: bare interpreter {bare:.2f} s; `import scoring.cli` {startup:.2f} s "
              f"(best of 3, interpreter included)")  # fmt: skip
        top = _top_imports(cmd)
        shown = ", ".join(f"{name} {sec * 1000:.0f} ms" for name, sec in top[:6])
        print(f"    heaviest imports of a run (-X importtime, cumulative): {shown}")
        heavy = sorted({name.split(".")[0] for name, _ in top} & {"scipy", "statsmodels", "pandas"})
        print(f"    scipy / statsmodels / pandas imported: {', '.join(heavy) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for (a)")
    parser.add_argument("--cli-rows", type=int, default=200_000, help="rows for (b)")
    args = parser.parse_args()
    bench_in_memory(args.rows, repeats=5)
    bench_cli(args.cli_rows, repeats=5)


if __name__ == "__main__":
    main()
