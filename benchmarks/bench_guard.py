"""CPU seconds of the workbook guard (evalkit.sources.workbook_guard._check) over every .xlsx/.ods of the
reference folder. Run from the repository root: `python benchmarks/bench_guard.py` (old code: PYTHONPATH=<copy>)."""

import glob
import time
from pathlib import Path

from evalkit.sources import workbook_guard as g

REF = "../shared/data/reference"
files = sorted(glob.glob(REF + "/**/*.xlsx", recursive=True) + glob.glob(REF + "/**/*.ods", recursive=True))
t = time.process_time()
tx = 0.0
to = 0.0
for f in files:
    t0 = time.process_time()
    g._check(Path(f))
    dt = time.process_time() - t0
    if f.endswith(".ods"):
        to += dt
    else:
        tx += dt
print(f"guard all {time.process_time() - t:.2f} CPU s (xlsx {tx:.2f}, ods {to:.2f}) over {len(files)} files")
