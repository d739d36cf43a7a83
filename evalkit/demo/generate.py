"""Write the embedded demo files (evalkit/demo/files/) from the data-generating process in dgp.py.

Each file is written in the publication's official layout (evalkit.demo.writers), so `evalkit ingest` reads the demo with the very parsers it uses on real files. Run
`python -m evalkit.demo.generate` to regenerate; a test checks the shipped files are exactly what
this produces.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from evalkit.demo import dgp, writers
from evalkit.io import atomic_write_text

NOTICE = f"""{dgp.BANNER}

Every file in this folder is synthetic: fictional councils (DfE codes 001-048, GSS codes
E99xxxxxx that ONS never issues), values drawn by evalkit/demo/dgp.py with seed {dgp.SEED}.
They are written in the official layouts of the real publications so that `evalkit ingest`
runs the same parsers on them as on real files. Nothing here is a real statistic.

Known truth: the move to a trust or company lowers the rate of children looked after by
{-dgp.TRUE_CLA_EFFECT:g} per 10,000 children from the first year whose 31 March falls after
go-live, and leaves spending per child unchanged ({dgp.TRUE_SPEND_EFFECT:g}).
"""


def write_demo_files(folder: Path, seed: int = dgp.SEED) -> list[Path]:
    """Write every demo file into `folder`; returns the paths, sorted."""
    data = dgp.generate(seed)
    folder.mkdir(parents=True, exist_ok=True)
    regions = data.councils.select("la_code", "region_code", "region_name")
    written: list[Path] = []
    written += writers.write_cla(data.cla.join(regions, on="la_code", how="left"), folder)
    written += writers.write_population(data.population.join(regions, on="la_code", how="left"), folder)
    written += writers.write_s251(data.spending.join(regions, on="la_code", how="left"), folder)
    written += writers.write_ofsted(data.judgements, folder)
    registry = data.registry.select(
        "spell_id",
        "la_code",
        "gss_code",
        "la_name",
        "body_name",
        "model",
        pl.col("go_live").cast(pl.Utf8),
        "go_live_status",
        pl.col("end_date").cast(pl.Utf8).fill_null(""),
        pl.col("end_type").fill_null(""),
        pl.lit("").alias("end_status"),
        "dfe_direction",
        "role",
        pl.col("source").alias("sources"),
    )
    atomic_write_text(folder / "adm_registry.csv", registry.write_csv(line_terminator="\n"))
    atomic_write_text(folder / "SYNTHETIC_DEMO_DATA.txt", NOTICE)
    written += [folder / "adm_registry.csv", folder / "SYNTHETIC_DEMO_DATA.txt"]
    return sorted(written)


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "files"
    for path in write_demo_files(target):
        print(path)


if __name__ == "__main__":
    main()
