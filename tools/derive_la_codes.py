"""Write evalkit/data/la_codes_known.csv: the facts ingest needs to know which LA codes exist, and when.

Derived (not copied) from DfE's LA reference list `dfe_las.csv` (github:dfe-analytical-services/
dfe-published-data-qa, data/las.csv; see ../shared/data/reference/dfe_las.PROVENANCE.txt): per row
only the 3-digit DfE code, the GSS code and the dates of operation and termination, ISO-formatted.
Names, regions and entity types are left out. Rerun when DfE adds councils:

    .venv/bin/python tools/derive_la_codes.py ../shared/data/reference/dfe_las.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

from evalkit.io import atomic_write_text, sha256_file
from evalkit.sources import la_codes

OUT = Path(__file__).resolve().parents[1] / "evalkit" / "data" / "la_codes_known.csv"


def main(source: str) -> None:
    frame = la_codes.parse(Path(source)).filter(~__import__("polars").col("is_joint"))
    rows = sorted(
        (
            r["la_code"],
            r["gss_code"] or "",
            r["date_of_operation"].isoformat() if r["date_of_operation"] else "",
            r["date_of_termination"].isoformat() if r["date_of_termination"] else "",
        )
        for r in frame.iter_rows(named=True)
        if r["la_code"]
    )
    head = [
        "# Derived by tools/derive_la_codes.py from DfE's LA reference list dfe_las.csv",
        "# (github:dfe-analytical-services/dfe-published-data-qa data/las.csv), sha256 " + sha256_file(source) + ".",
        "# Codes, GSS codes and dates only. Used by evalkit.validation when no dfe_las.csv is ingested.",
        "la_code,gss_code,date_of_operation,date_of_termination",
    ]
    atomic_write_text(OUT, "\n".join(head + [",".join(r) for r in rows]) + "\n")
    print(f"wrote {len(rows)} codes to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
