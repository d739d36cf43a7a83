"""Peak memory of `evalkit ingest` on a large CLA-format CSV (issue #14: at most 1.5 GB for 500 MB).

    nice -n 10 .venv/bin/python benchmarks/bench_memory.py [--size-mb 500] [--write benchmarks/MEMORY.md]

The file is built at run time from the real EES file
`reference/cla/ees_cla_number_and_rate_per_10k_children_2020_2024.csv` in the shared data (found
through tests/shared_data.py: EVALKIT_SHARED_DATA, default ../shared/data): its header and every
row as published, then its National and Regional rows repeated in order until the file reaches
`--size-mb`. Repeating the council rows is not possible (one row per council-year and population
type is a rule, and years and LA codes must be real), and the national and regional rows go
through the same reader and checks before the council rows are selected, so the file is a
publication-shaped worst case for the reader: every byte is read, decoded, split and checked.

`evalkit ingest --from <folder> --out <folder>` then runs in a fresh process; the parent reads its
peak resident set size (ru_maxrss from os.wait4, the same way as bench_process.py) and wall time.
"Nothing lost": the cla.parquet written from the big file must equal the one written from the
published file alone (same rows, same values), or the run counts as failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests.shared_data import REFERENCE, absent_reason  # noqa: E402

EVALKIT = Path(sys.executable).parent / "evalkit"
SOURCE = "cla/ees_cla_number_and_rate_per_10k_children_2020_2024.csv"
TARGET_GB = 1.5


def build(out: Path, size_mb: float) -> int:
    """Write the big CSV to `out` in blocks (the builder itself holds a few MB); return its size."""
    raw = (REFERENCE / SOURCE).read_bytes()
    lines = raw.split(b"\n")
    filler = [line for line in lines[1:] if b",National," in line or b",Regional," in line]
    block = b"\n".join(filler) + b"\n"
    target = int(size_mb * 1024 * 1024)
    with open(out, "wb") as fh:
        fh.write(raw if raw.endswith(b"\n") else raw + b"\n")
        size = len(raw)
        while size < target:
            fh.write(block)
            size += len(block)
    return out.stat().st_size


def ingest(folder: Path, out: Path) -> dict:
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(EVALKIT), "-q", "ingest", "--from", str(folder), "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        err.seek(0)
        message = err.read().decode(errors="replace").strip()
    code = os.waitstatus_to_exitcode(status)
    return {
        "exit": code,
        "error": message,
        "wall_s": time.perf_counter() - start,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # kilobytes on Linux
    }


def cla_table(out: Path):
    import polars as pl

    from evalkit.generations import current_dir

    return pl.read_parquet(current_dir(out) / "cla.parquet").drop("file", strict=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=500)
    ap.add_argument("--write", type=Path, help="write the figures to this Markdown file")
    args = ap.parse_args()
    if not (REFERENCE / SOURCE).is_file():
        print(absent_reason(REFERENCE), file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="evalkit-mem-") as tmp:
        tmp = Path(tmp)
        small, big = tmp / "small" / "cla", tmp / "big" / "cla"
        small.mkdir(parents=True)
        big.mkdir(parents=True)
        shutil.copyfile(REFERENCE / SOURCE, small / Path(SOURCE).name)
        size = build(big / Path(SOURCE).name, args.size_mb)
        ref = ingest(small.parent, tmp / "out-small")
        run = ingest(big.parent, tmp / "out-big")
        same = run["exit"] == 0 and ref["exit"] == 0 and cla_table(tmp / "out-big").equals(cla_table(tmp / "out-small"))
    load = os.getloadavg()
    ok = same and run["peak_rss_mb"] <= TARGET_GB * 1024
    lines = [
        f"- file: {size / 1e6:.0f} MB ({size:,} bytes) CLA-format CSV built from `{SOURCE}`",
        f"- peak RSS of `evalkit ingest`: {run['peak_rss_mb']:.0f} MB "
        f"({run['peak_rss_mb'] / (size / 1024 / 1024):.2f} x the file; target <= {TARGET_GB} GB)",
        f"- wall time: {run['wall_s']:.1f} s; the published file alone: {ref['peak_rss_mb']:.0f} MB, {ref['wall_s']:.1f} s",
        f"- output identical to the published file's: {'yes' if same else 'NO'}"
        + (f" (exit {run['exit']}: {run['error']})" if run["exit"] else ""),
        f"- load average during the run (1, 5, 15 min): {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} on {os.cpu_count()} CPUs",
        f"- date: {dt.date.today().isoformat()}; result: {'PASS' if ok else 'FAIL'}",
    ]
    print("\n".join(lines))
    if args.write:
        text = [
            "# Memory on a large CSV (generated by benchmarks/bench_memory.py)",
            "",
            "Command:",
            "",
            "    nice -n 10 .venv/bin/python benchmarks/bench_memory.py --size-mb "
            f"{args.size_mb:g} --write {args.write.as_posix()}",
            "",
            *lines,
            "",
        ]
        args.write.write_text("\n".join(text), encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
