"""Regenerate honestdid_ehec.json's full-precision numbers from the HonestDiD README's knitr cache.

Not run by the tests (it needs the `rdata` package and a checkout of asheshrambachan/HonestDiD).
The README (README.Rmd knitted with cache=TRUE) prints its tables to 3 significant digits; the
objects it printed are serialised in README_cache/gfm/*.rdb (R lazy-load databases: a gzipped
index *.rdx of (offset, length) per variable, each entry 4 bytes of length + zlib-compressed R
serialisation). Usage:

    python extract_honestdid_cache.py /path/to/HonestDiD/README_cache/gfm > cache.json
"""

from __future__ import annotations

import gzip
import json
import sys
import zlib
from pathlib import Path

import numpy as np
import rdata  # pip install rdata (1.1.0 used)

CHUNKS = {
    "rm_first": ("unnamed-chunk-4_d08e39374736e71fa1379f8379b56bb5", "delta_rm_results"),
    "sd_first": ("unnamed-chunk-6_6a1a19c1b25737f3167f0bb30e5b250d", "delta_sd_results"),
    "rm_average": ("unnamed-chunk-7_40d31aed1b8b0bc2d595204b6c288837", "delta_rm_results_avg"),
    "controls_betahat": ("unnamed-chunk-8_f68e98bbac13a1932bc9db93b38f3a59", "betahat"),
    "controls_sigma": ("unnamed-chunk-8_f68e98bbac13a1932bc9db93b38f3a59", "sigma"),
    "controls_data": ("unnamed-chunk-8_f68e98bbac13a1932bc9db93b38f3a59", "df_nonstaggered"),
}


def load(folder: Path, prefix: str, name: str):
    index = rdata.conversion.convert(rdata.parser.parse_data(gzip.decompress((folder / f"{prefix}.rdx").read_bytes())))
    offset, length = (int(x) for x in index["variables"][name])
    blob = (folder / f"{prefix}.rdb").read_bytes()[offset : offset + length]
    return rdata.conversion.convert(rdata.parser.parse_data(zlib.decompress(blob[4:])))


def main(folder: Path) -> None:
    out = {}
    for key, (prefix, name) in CHUNKS.items():
        obj = load(folder, prefix, name)
        if key == "controls_data":
            out[key] = {c: [float(v) for v in obj[c]] for c in ("stfips", "year", "control")}
        elif key.startswith("controls_"):
            out[key] = np.asarray(obj).tolist()
        else:
            out[key] = {c: [float(v) for v in obj[c]] for c in ("lb", "ub", "Mbar" if "Mbar" in obj else "M")}
    json.dump(out, sys.stdout, indent=1)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
