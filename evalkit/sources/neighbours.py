"""DfE children's services statistical neighbours: the April 2021 groupings and the 2025 model.

Both files are wide (one row per LA, ten neighbours with a closeness band each) and become one long
frame: la_code, la_name, neighbour_code, rank (1-10), closeness, model ("2021" | "2025").

* `dfe_New_Statistical_Neighbour_Groupings_April_2021.csv`: header
  `LA num,LA Name,LA number,GOInd,GOReg,SN1,SNP,SN2,SNP,...,SN10,SNP,` -- the `SNP` name is repeated ten
  times and every line ends with a comma, so the columns are read by position after the whole header
  has been checked. After the 152 current LAs a blank line, a line `,Old SNs:,...` and another blank
  line precede the groupings of the pre-reorganisation LAs (835, 836, 837, 928); those rows are kept
  with `pre_reorganisation = true`.
* `dfe_sn_model_2025_wide.csv`: header `old_la_code,la_name,region_ind,region_name,SN_1,SN_1P,...`;
  closeness labels carry a trailing space (`Close `).

Closeness is normalised to snake case: extremely_close, very_close, close, somewhat_close, not_close
(the 2021 file writes `Very Close`, the 2025 file `Very close`).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.sources.common import normalise_header, read_csv_rows

NAME = "statistical_neighbours"
KIND = "lookup"
PARSER_VERSION = "1"

SCHEMA: dict[str, pl.DataType] = {
    "model": pl.Utf8,  # "2021" | "2025"
    "la_code": pl.Utf8,
    "la_name": pl.Utf8,
    "neighbour_code": pl.Utf8,
    "rank": pl.Int8,  # 1 = closest
    "closeness": pl.Utf8,  # extremely_close | very_close | close | somewhat_close | not_close
    "pre_reorganisation": pl.Boolean,  # 2021 file's "Old SNs" section (835, 836, 837, 928)
    "file": pl.Utf8,
}

CLOSENESS = {
    "extremely close": "extremely_close",
    "very close": "very_close",
    "close": "close",
    "somewhat close": "somewhat_close",
    "not close": "not_close",
}

HEADER_2021 = ["LA num", "LA Name", "LA number", "GOInd", "GOReg"] + [
    x for i in range(1, 11) for x in (f"SN{i}", "SNP")
]
HEADER_2025 = ["old_la_code", "la_name", "region_ind", "region_name"] + [
    x for i in range(1, 11) for x in (f"SN_{i}", f"SN_{i}P")
]
_CODE = re.compile(r"^\d{3}$")


def _layout(header: list[str]) -> str | None:
    norm = [normalise_header(h) for h in header]
    trimmed = norm[:-1] if norm and norm[-1] == "" else norm
    if trimmed == [normalise_header(h) for h in HEADER_2021]:
        return "2021"
    if trimmed == [normalise_header(h) for h in HEADER_2025]:
        return "2025"
    return None


def detect(path: Path) -> bool:
    path = Path(path)
    if path.suffix.lower() != ".csv":
        return False
    try:
        with path.open("r", encoding="utf-8-sig") as fh:
            first = fh.readline()
    except (OSError, UnicodeDecodeError):
        return False
    return _layout(first.rstrip("\r\n").split(",")) is not None


def parse(path: Path) -> pl.DataFrame:
    path = Path(path)
    file = path.name
    header, rows = read_csv_rows(path)
    model = _layout(header)
    if model is None:
        norm = [normalise_header(h) for h in header]
        expected_2021 = [normalise_header(h) for h in HEADER_2021]
        expected_2025 = [normalise_header(h) for h in HEADER_2025]
        best = max((expected_2021, expected_2025), key=lambda e: sum(a == b for a, b in zip(norm, e)))
        pos = next((i for i, (a, b) in enumerate(zip(norm, best)) if a != b), min(len(norm), len(best)))
        want = HEADER_2021 if best is expected_2021 else HEADER_2025
        found = header[pos] if pos < len(header) else "(nothing)"
        raise EvalkitError(
            f"unrecognised statistical-neighbour layout: column {pos + 1} is {found!r}",
            file=file,
            row=1,
            column=want[pos] if pos < len(want) else None,
            expected=f"the header {','.join(want[:7])},... ({len(want)} columns)",
        )
    first_sn = 5 if model == "2021" else 4
    out: list[dict] = []
    pre = False
    for line, row in enumerate(rows, start=2):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if model == "2021" and not cells[0] and cells[1].lower().startswith("old sns"):
            pre = True
            continue
        code, name = cells[0], cells[1]
        if not _CODE.match(code):
            raise EvalkitError(
                f"{code!r} is not a DfE LA code", file=file, row=line, column=header[0], expected="a 3-digit DfE code"
            )
        if model == "2021" and cells[2] != code:
            raise EvalkitError(
                f"'LA number' {cells[2]!r} differs from 'LA num' {code!r}",
                file=file,
                row=line,
                column="LA number",
                expected="the same code in both columns",
            )
        for rank in range(1, 11):
            ci = first_sn + 2 * (rank - 1)
            neighbour, label = cells[ci], cells[ci + 1]
            if not _CODE.match(neighbour):
                raise EvalkitError(
                    f"neighbour {neighbour!r} is not a DfE LA code",
                    file=file,
                    row=line,
                    column=header[ci],
                    expected="a 3-digit DfE code",
                )
            closeness = CLOSENESS.get(" ".join(label.lower().split()))
            if closeness is None:
                raise EvalkitError(
                    f"unknown closeness label {label!r}",
                    file=file,
                    row=line,
                    column=header[ci + 1],
                    expected="Extremely close, Very close, Close, Somewhat close or Not close",
                )
            out.append(
                {
                    "model": model,
                    "la_code": code,
                    "la_name": name,
                    "neighbour_code": neighbour,
                    "rank": rank,
                    "closeness": closeness,
                    "pre_reorganisation": pre,
                    "file": file,
                }
            )
    if not out:
        raise EvalkitError("no LA rows found", file=file, expected="one row per local authority")
    frame = pl.DataFrame(out, schema=SCHEMA)
    dup = frame.group_by("la_code", "pre_reorganisation").agg(pl.len() // 10 > 1).filter(pl.col("len"))
    if dup.height:
        raise EvalkitError(
            f"LA {dup['la_code'][0]} appears more than once", file=file, expected="one row per local authority"
        )
    return frame.sort(["la_code", "rank"])


def neighbours_of(frame: pl.DataFrame, la_code: str, model: str = "2025") -> list[str]:
    """The ten neighbours of an LA, closest first."""
    rows = frame.filter((pl.col("la_code") == la_code) & (pl.col("model") == model)).sort("rank")
    return rows["neighbour_code"].to_list()
