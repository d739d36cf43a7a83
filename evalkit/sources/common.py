"""What the official statistics files have in common: tidy schemas, suppression markers, header checks."""

from __future__ import annotations

import contextvars
import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError

# --- Tidy schemas -------------------------------------------------------------------------------

# KIND "measures": one row per council, period and measure.
#   year: the publication's own year label as an integer (CLA/CIN: year ending 31 March; spending:
#         the financial year by its END year, 2015-16 -> 2016; workforce: 30 September of year;
#         population: mid-year). reference_date makes that explicit per row.
MEASURES_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.Utf8,  # module NAME
    "file": pl.Utf8,  # file name (no directory), for provenance
    "year": pl.Int32,
    "reference_date": pl.Date,
    "la_code": pl.Utf8,  # DfE 3-digit code as published ("314 / 318" for joint units)
    "gss_code": pl.Utf8,  # ONS GSS code as published (null when the file has none)
    "la_name": pl.Utf8,
    "measure": pl.Utf8,  # snake_case canonical measure name
    "value": pl.Float64,  # null when suppressed or missing
    "marker": pl.Utf8,  # the published symbol when value is null (c, x, z, u, low, ...), else null
    "unit": pl.Utf8,  # count | rate_per_10000 | percent | gbp | fte | days | ratio
}

# KIND "judgements": one row per inspection and judgement.
JUDGEMENTS_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.Utf8,
    "file": pl.Utf8,
    "la_code": pl.Utf8,
    "gss_code": pl.Utf8,
    "la_name": pl.Utf8,
    "framework": pl.Utf8,  # pre_sif | sif | ilacs
    "inspection_type": pl.Utf8,  # as published, e.g. "ILACS Standard Inspection", "SIF re-inspection"
    "inspection_start": pl.Date,
    "inspection_end": pl.Date,
    "publication_date": pl.Date,
    "judgement": pl.Utf8,  # overall_effectiveness | leadership | help_and_protection |
    # children_in_care | care_leavers | adoption | lscb | ...
    "grade": pl.Utf8,  # outstanding | good | requires_improvement | inadequate | null
    "grade_note": pl.Utf8,  # e.g. not_reported_post_reform, data_unreadable; else null
}

GRADE_LABELS = {
    "outstanding": "outstanding",
    "good": "good",
    "requires improvement to be good": "requires_improvement",
    "requires improvement": "requires_improvement",
    "requires_improvement": "requires_improvement",
    "ri": "requires_improvement",
    "inadequate": "inadequate",
}
GRADE_SCORE = {"outstanding": 1, "good": 2, "requires_improvement": 3, "inadequate": 4}

# --- Suppression and missing markers ------------------------------------------------------------

# Every symbol the DfE, ONS and MHCLG files use for "no number here". Never zero.
MARKERS = {
    "c",
    "x",
    "z",
    "u",
    "k",
    "low",
    "..",
    ":",
    "~",
    "-",
    "[c]",
    "[x]",
    "[z]",
    "[u]",
    "[low]",
    "n/a",
    "na",
    "null",
    "#value!",
    "*",
    "[k]",
    "...",
    "\u2026",
}


def normalise_marker(raw: str) -> str:
    return raw.strip().lower()


# A number as the files write it, after stripping: optional sign, digits with an optional decimal
# part (or a bare decimal part), optional exponent. Thousands separators are removed first, but only
# in the form 1,234 / 1,234,567.89 (commas between groups of three digits).
_NUMBER = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"
_THOUSANDS = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$"


def split_values(
    series: pl.Series, *, file: str | Path, column: str, row_offset: int = 2
) -> tuple[pl.Series, pl.Series]:
    """Turn a text column into (Float64 values, marker strings).

    Markers and blanks become nulls with the marker kept. Leading/trailing whitespace, a pound sign,
    a trailing percent sign and thousands separators of the form ``1,234`` are stripped; anything
    else that is not a finite number (``12 34``, ``1,23``, ``NaN``, ``inf``) raises one
    EvalkitError naming the row. `row_offset` converts a 0-based data index to the row number a
    user sees (2 for a CSV with a header on row 1).
    """
    text = series.cast(pl.Utf8).str.strip_chars()
    lowered = text.str.to_lowercase()
    is_marker = lowered.is_in(list(MARKERS))
    frame = pl.DataFrame({"t": text, "m": is_marker}).with_columns(
        pl.when(pl.col("m")).then(None).otherwise(pl.col("t")).alias("v")
    )
    numeric_text = frame["v"].str.replace_all("£", "").str.strip_chars().str.replace(r"%$", "").str.strip_chars()
    numeric_text = (
        pl.DataFrame({"n": numeric_text})
        .select(
            pl.when(pl.col("n").str.contains(_THOUSANDS))
            .then(pl.col("n").str.replace_all(",", ""))
            .otherwise(pl.col("n"))
            .alias("n")
        )
        .to_series()
        .replace("", None)
    )
    well_formed = numeric_text.str.contains(_NUMBER)
    values = (
        pl.DataFrame({"n": numeric_text, "ok": well_formed})
        .select(pl.when(pl.col("ok")).then(pl.col("n").cast(pl.Float64, strict=False)).otherwise(None))
        .to_series()
    )
    finite = values.is_finite().fill_null(False)
    bad = numeric_text.is_not_null() & ~finite
    if bad.any():
        idx = int(bad.arg_true()[0])
        raise EvalkitError(
            f"value {text[idx]!r} is not a number",
            file=Path(file).name,
            row=idx + row_offset,
            column=column,
            expected="a number or a suppression marker (c, x, z, u, low, ..)",
        )
    values = values.alias("v")  # the name split_values has always returned
    markers = pl.Series(
        [normalise_marker(t) if m else None for t, m in zip(text.to_list(), is_marker.to_list())],
        dtype=pl.Utf8,
    )
    # A blank cell is missing, not zero; record it as an empty marker.
    markers = (
        pl.DataFrame({"m": markers, "t": text})
        .select(
            pl.when(pl.col("m").is_null() & (pl.col("t").is_null() | (pl.col("t") == "")))
            .then(pl.lit("blank"))
            .otherwise(pl.col("m"))
        )
        .to_series()
    )
    return values, markers


# --- Reading text files ---------------------------------------------------------------------------


def normalise_header(name: str) -> str:
    """Compare headers case- and space-insensitively: ' Number ' and 'number' are the same column."""
    return re.sub(r"\s+", " ", name.replace("\ufeff", "")).strip().lower()


def match_columns(
    frame: pl.DataFrame,
    file: Path | str,
    layouts: Mapping[str, Mapping[str, Iterable[str]]],
) -> tuple[str, pl.DataFrame]:
    """Find which known layout a table is in and rename its columns to canonical names.

    `layouts` maps a layout name to {canonical column: [accepted published header variants]}.
    The first layout whose every canonical column is present wins. If none fits, one error names
    the closest layout's missing columns and what the file has.
    """
    found = {normalise_header(c): c for c in frame.columns}
    best: tuple[int, str, list[str]] | None = None
    for layout, columns in layouts.items():
        rename: dict[str, str] = {}
        missing: list[str] = []
        for canonical, variants in columns.items():
            hit = next((found[normalise_header(v)] for v in variants if normalise_header(v) in found), None)
            if hit is None:
                missing.append(next(iter(variants)))
            else:
                rename[hit] = canonical
        if not missing:
            return layout, frame.select(list(rename)).rename(rename)
        if best is None or len(missing) < best[0]:
            best = (len(missing), layout, missing)
    assert best is not None
    _, layout, missing = best
    published = [c for c in frame.columns if c != "__row"]  # not the row-number column read_csv_strict adds
    shown = ", ".join(published[:12]) + (", ..." if len(published) > 12 else "")
    raise EvalkitError(
        f"unrecognised layout: closest is {layout!r} but column(s) {', '.join(missing)} are missing; found {shown}",
        file=Path(file).name,
        row=1,
        column=missing[0],
    )


# During ingest, tidy rows keep the file row and published column they came from, so that the
# semantic checks (evalkit.validation) can name them; ingest drops both before writing.
KEEP_ROWS: contextvars.ContextVar[bool] = contextvars.ContextVar("evalkit_keep_rows", default=False)
ORIGIN = ("__row", "__column")


def finish(frame: pl.DataFrame, schema: Mapping[str, pl.DataType], sort_by: Sequence[str]) -> pl.DataFrame:
    """Cast to the tidy schema, in schema order, sorted, so the same file always gives the same bytes."""
    cols = []
    for name, dtype in schema.items():
        if name in frame.columns:
            cols.append(pl.col(name).cast(dtype))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    if KEEP_ROWS.get():
        cols += [pl.col(c) for c in ORIGIN if c in frame.columns]
    return frame.select(cols).sort(list(sort_by), nulls_last=True, maintain_order=True)


def finish_measures(frame: pl.DataFrame) -> pl.DataFrame:
    return finish(frame, MEASURES_SCHEMA, ["year", "la_code", "measure", "file"])


def finish_judgements(frame: pl.DataFrame) -> pl.DataFrame:
    return finish(frame, JUDGEMENTS_SCHEMA, ["la_code", "publication_date", "judgement", "file"])


def grade_of(label: str | None) -> str | None:
    if label is None:
        return None
    key = " ".join(str(label).strip().lower().split())
    if key in ("", "-", "n/a"):
        return None
    return GRADE_LABELS.get(key)


# --- Strict EES/CSV reading (shared by cla, cin, workforce, population) ----------------------------

ROW = "__row"  # the row number a user sees in a text editor (header = 1)

BOM = b"\xef\xbb\xbf"


def head_bytes(path: Path, limit: int = 65536) -> bytes:
    """The first ``limit`` bytes of a file without a UTF-8 BOM (b"" when unreadable)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit)
    except OSError:
        return b""
    return raw[len(BOM) :] if raw.startswith(BOM) else raw


def is_blank(path: Path) -> bool:
    """True for a readable file that holds nothing but a BOM and whitespace (cheap: reads 64 KiB)."""
    try:
        if not Path(path).is_file():
            return False
    except OSError:
        return False
    return not head_bytes(path).strip()


_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\f")


def is_binary(path: Path) -> bool:
    """True for a file whose first 64 KiB are not text: a NUL byte (git's rule) or mostly control bytes.

    A file under a publication's own name that is not text (a workbook or a download error page saved as
    ``.csv``) is claimed by its parser and refused by name, not skipped as unrecognised."""
    head = head_bytes(path)
    if not head:
        return False
    return b"\0" in head or sum(head.count(bytes([c])) for c in _CONTROL) > len(head) // 10


def check_text(path: Path) -> None:
    """One line for a CSV that is not text (see `is_binary`), before anything reads it as rows."""
    if is_binary(path):
        raise EvalkitError(
            "is not a text file (binary bytes: a workbook, archive or other file saved under this name?)",
            file=Path(path).name,
            expected="the publication's CSV as published (UTF-8 text)",
        )


def head_line(path: Path, limit: int = 65536) -> str:
    """The first line of a text file, BOM removed; "" for an empty file. Cheap enough for detect()."""
    text = head_bytes(path, limit).decode("utf-8", errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    return lines[0] if lines else ""


def head_columns(path: Path) -> set[str]:
    return {normalise_header(c) for c in head_line(path).split(",")}


def _header_cells(line: str) -> list[str]:
    """A CSV header line as cells; [] when it cannot be read as one."""
    try:
        return next(csv.reader(io.StringIO(line, newline="")), [])
    except csv.Error:
        return []


def check_not_truncated(path: Path) -> None:
    """A text table must end with a line break, unless its last line holds no data (blank cells only).

    Every published CSV in the reference set ends with a line break but one, whose last line is a
    row of empty cells; a file cut off inside its last row (a failed download or copy) does not, and
    a cut inside the last field keeps the field count, so it would otherwise pass as complete.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            fh.seek(max(0, size - 65536))
            tail = fh.read()
    except OSError:
        return
    if not tail or tail.endswith(b"\n") or tail.endswith(b"\r"):
        return
    last = tail.rsplit(b"\n", 1)[-1]
    if last.replace(b",", b"").replace(b'"', b"").strip():
        raise EvalkitError(
            "the file looks truncated (cut off): it does not end with a line break and its last row holds data",
            file=path.name,
            row=head_bytes(path, size).count(b"\n") + 1 if size < (1 << 24) else None,
            expected="a complete file (download or copy it again)",
        )


def decode_text(raw: bytes, encodings: Sequence[str], file: str) -> str:
    """Decode with the first encoding that works; else one line naming the row of the first bad byte."""
    last: UnicodeDecodeError | None = None
    for enc in encodings:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError as exc:
            last = exc
    assert last is not None
    raise EvalkitError(
        f"byte 0x{raw[last.start]:02x} cannot be decoded as {' or '.join(encodings)}",
        file=file,
        row=raw[: last.start].count(b"\n") + 1,
        expected=f"text encoded as {encodings[0]}",
    )


CSV_BATCH = 20_000  # records held as Python strings at once; the rest is in polars columns


def _is_blank(path: Path) -> bool:
    """No byte but whitespace (after a UTF-8 BOM), read in chunks."""
    with open(path, "rb") as fh:
        first = True
        while block := fh.read(1 << 20):
            if first and block.startswith(BOM):
                block = block[len(BOM) :]
            first = False
            if block.strip():
                return False
    return True


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file (after a UTF-8 BOM) decodes as `encoding`, read in chunks."""
    import codecs

    decoder = codecs.getincrementaldecoder(encoding)("strict")
    with open(path, "rb") as fh:
        if fh.read(len(BOM)) != BOM:
            fh.seek(0)
        try:
            while block := fh.read(1 << 20):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _undecodable(path: Path, encodings: Sequence[str]) -> EvalkitError:
    """One line naming the row and column of the first byte the last encoding cannot decode.

    Line by line: a UTF-8 or single-byte character never spans a line break, so the first failing
    line holds the first bad byte."""
    enc = encodings[-1]
    header: list[str] = []
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if number == 1 and line.startswith(BOM):
                line = line[len(BOM) :]
            if number == 1:
                header = _header_cells(line.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n"))
            try:
                line.decode(enc)
            except UnicodeDecodeError as exc:
                field = line[: exc.start].count(b",")
                return EvalkitError(
                    f"byte 0x{line[exc.start]:02x} cannot be decoded as {' or '.join(encodings)}",
                    file=path.name,
                    row=number,
                    column=header[field].strip() if field < len(header) else None,
                    expected=f"text encoded as {encodings[0]}",
                )
    return EvalkitError(f"cannot be decoded as {' or '.join(encodings)}", file=path.name)  # pragma: no cover


def read_csv_strict(path: Path, *, encodings: Sequence[str] = ("utf-8-sig",)) -> pl.DataFrame:
    """Read a CSV with every cell as text and a ``__row`` column (header = row 1).

    Rejects with one line: an empty file, a blank header line, bytes that decode in none of
    ``encodings`` (EES files must be UTF-8), malformed CSV, and any record whose field count differs
    from the header's (a truncated or ragged line). Quoted empties (``""``) and bare empties both
    become "".

    Streamed, so memory stays a small multiple of the file (issue #14: a 525 MB file once took
    7.6 GB as Python strings): the file is decoded chunk by chunk, at most CSV_BATCH records are
    Python strings at a time, and each batch becomes polars columns, concatenated without copying.
    """
    path = Path(path)
    if _is_blank(path):
        raise EvalkitError("file is empty", file=path.name, row=1, expected="a header row and data rows")
    encoding = next((enc for enc in encodings if _decodes(path, enc)), None)
    if encoding is None:
        raise _undecodable(path, encodings)
    with open(path, "rb") as raw:
        if raw.read(len(BOM)) != BOM:
            raw.seek(0)
        text = io.TextIOWrapper(raw, encoding=encoding, newline="")
        return _read_records(text, path)


def _read_records(text: io.TextIOBase, path: Path) -> pl.DataFrame:
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:  # pragma: no cover - guarded by the empty check
        raise EvalkitError("file is empty", file=path.name, row=1) from None
    except csv.Error as exc:
        raise EvalkitError(f"not a well-formed CSV table: {exc}", file=path.name, row=1) from exc
    if header:
        header[0] = header[0].lstrip("\ufeff")
    if not any(name.strip() for name in header):
        raise EvalkitError(
            "no header row: the first line is blank", file=path.name, row=1, expected="a header row of column names"
        )
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        name = name.strip() or f"__blank_{i + 1}"
        if normalise_header(name) in seen:  # which of the two would be read? Neither, silently.
            raise EvalkitError(
                f"column {name!r} appears twice in the header (fields {seen[normalise_header(name)] + 1} and {i + 1})",
                file=path.name,
                row=1,
                column=name,
                expected="each column name once",
            )
        seen[normalise_header(name)] = i
        names.append(name)
    width = len(names)
    batches: list[pl.DataFrame] = []
    columns: list[list[str]] = [[] for _ in range(width)]
    rows: list[int] = []

    def flush() -> None:
        data = {n: pl.Series(n, c, dtype=pl.Utf8) for n, c in zip(names, columns)}
        data[ROW] = pl.Series(ROW, rows, dtype=pl.Int64)
        batches.append(pl.DataFrame(data))
        for c in columns:
            c.clear()
        rows.clear()

    start = reader.line_num + 1
    try:
        for record in reader:
            line = start
            start = reader.line_num + 1
            if not record:
                continue  # a blank line
            if len(record) != width:
                raise EvalkitError(
                    f"has {len(record)} fields but the header has {width} (truncated or ragged line)",
                    file=path.name,
                    row=line,
                    column=names[min(len(record), width) - 1],
                    expected=f"{width} comma-separated fields on every row",
                )
            for col, cell in zip(columns, record):
                col.append(cell)
            rows.append(line)
            if len(rows) >= CSV_BATCH:
                flush()
    except csv.Error as exc:
        raise EvalkitError(f"not a well-formed CSV table: {exc}", file=path.name, row=reader.line_num) from exc
    if rows or not batches:
        flush()
    if batches[0].height == 0:
        raise EvalkitError("has a header but no data rows", file=path.name, row=2, expected="data rows")
    return batches[0] if len(batches) == 1 else pl.concat(batches, how="vertical", rechunk=False)


def with_row(layouts: Mapping[str, Mapping[str, Iterable[str]]]) -> dict[str, dict[str, list[str]]]:
    """Add the ``__row`` column to every layout so match_columns keeps it."""
    return {name: {**{k: list(v) for k, v in cols.items()}, ROW: [ROW]} for name, cols in layouts.items()}


def published_names(raw: pl.DataFrame, layout: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """canonical -> the header as published, for error messages."""
    found = {normalise_header(c): c for c in raw.columns}
    out = {}
    for canonical, variants in layout.items():
        out[canonical] = next((found[normalise_header(v)] for v in variants if normalise_header(v) in found), canonical)
    return out


def numbers(frame: pl.DataFrame, column: str, file: Path | str, shown: str | None = None) -> pl.DataFrame:
    """Split a text column into ``value``/``marker``; errors name the real row via ``__row``."""
    try:
        values, markers = split_values(frame[column], file=file, column=shown or column, row_offset=0)
    except EvalkitError as exc:
        # split_values counts from row_offset; translate its 0-based index to the file row.
        idx = exc.row if exc.row is not None else 0
        raise EvalkitError(
            exc.message,
            file=Path(file).name,
            row=int(frame[ROW][idx]),
            column=shown or column,
            expected=exc.expected,
        ) from None
    return pl.DataFrame({"value": values, "marker": markers})


def parse_year(frame: pl.DataFrame, column: str, file: Path | str, shown: str = "time_period") -> pl.Series:
    text = frame[column].str.strip_chars()
    ok = text.str.contains(r"^\d{4}$")
    if not ok.all():
        idx = int((~ok).arg_true()[0])
        raise EvalkitError(
            f"time period {text[idx]!r} is not a 4-digit year",
            file=Path(file).name,
            row=int(frame[ROW][idx]),
            column=shown,
            expected="a year such as 2025",
        )
    return text.cast(pl.Int32)


EES_GEOGRAPHY = {
    "time_period": ["time_period"],
    "geographic_level": ["geographic_level"],
    "la_code": ["old_la_code"],
    "gss_code": ["new_la_code"],
    "la_name": ["la_name"],
}
# The headers every EES local-authority table starts with (normalised), used by detect().
EES_GEOGRAPHY_HEADERS = frozenset({"time_period", "geographic_level", "old_la_code"})
GEO_LEVELS = {"National", "Regional", "Local authority"}
# A DfE LA code: 3 digits, or a joint unit such as "314 / 318" (spacing around "/" is not checked).
LA_CODE = r"^\d{3}( / \d{3})*$"


def check_la_codes(codes: pl.Series, rows: pl.Series, file: Path | str, column: str) -> None:
    """Every code must be a DfE 3-digit code (or a joint ``314 / 318``); one error naming the row."""
    text = codes.cast(pl.Utf8).fill_null("").str.strip_chars().str.replace_all(r"\s*/\s*", " / ")
    bad = ~text.str.contains(LA_CODE)
    if bad.any():
        idx = int(bad.arg_true()[0])
        raise EvalkitError(
            f"LA code {codes[idx]!r} is not a DfE 3-digit code",
            file=Path(file).name,
            row=int(rows[idx]),
            column=column,
            expected="a 3-digit code like 371, or a joint code like 314 / 318",
        )


def ees_local_authorities(frame: pl.DataFrame, file: Path | str, shown: str = "old_la_code") -> pl.DataFrame:
    """Check geographic_level, keep LA rows, strip codes, require a DfE LA code on each."""
    level = frame["geographic_level"].str.strip_chars()
    bad = ~level.is_in(list(GEO_LEVELS))
    if bad.any():
        idx = int(bad.arg_true()[0])
        raise EvalkitError(
            f"unknown geographic level {level[idx]!r}",
            file=Path(file).name,
            row=int(frame[ROW][idx]),
            column="geographic_level",
            expected="National, Regional or Local authority",
        )
    la = frame.filter(level == "Local authority").with_columns(
        pl.col("la_code").str.strip_chars(),
        pl.col("gss_code").str.strip_chars().replace("", None),
        pl.col("la_name").str.strip_chars(),
    )
    empty = la["la_code"].is_null() | (la["la_code"] == "")
    if empty.any():
        idx = int(empty.arg_true()[0])
        raise EvalkitError(
            "local-authority row without an LA code",
            file=Path(file).name,
            row=int(la[ROW][idx]),
            column=shown,
            expected="the DfE 3-digit code",
        )
    check_la_codes(la["la_code"], la[ROW], file, shown)
    return la


def reject_duplicates(
    frame: pl.DataFrame,
    keys: Sequence[str],
    file: Path | str,
    column: str,
    what: str,
    *,
    row_column: str = ROW,
    row_offset: int = 0,
) -> None:
    """Duplicated council-years are an error naming the row of the repeat (the first row that repeats
    an earlier one's keys): `row_column` + `row_offset` is the row a user sees."""
    dup = frame.select(
        pl.struct(list(keys)).is_duplicated().alias("d"), pl.struct(list(keys)).is_first_distinct().alias("f")
    )
    repeat = dup["d"] & ~dup["f"]
    if repeat.any():
        idx = int(repeat.arg_true()[0])
        row = frame.row(idx, named=True)
        desc = ", ".join(f"{k}={row[k]}" for k in keys)
        raise EvalkitError(
            f"duplicated {what} ({desc})",
            file=Path(file).name,
            row=int(row[row_column]) + row_offset,
            column=column,
            expected=f"one row per {what}",
        )


def long_measures(
    frame: pl.DataFrame,
    file: Path | str,
    *,
    source: str,
    measures: Mapping[str, tuple[str, str]],
    shown: Mapping[str, str],
    reference: tuple[int, int],
) -> pl.DataFrame:
    """Wide LA rows (canonical value columns) -> tidy measure rows, in MEASURES_SCHEMA order."""
    month, day = reference
    parts = []
    for column, (measure, unit) in measures.items():
        vm = numbers(frame, column, file, shown.get(column, column))
        parts.append(
            frame.select(
                "year",
                "la_code",
                "gss_code",
                "la_name",
                (pl.col(ROW) if ROW in frame.columns else pl.lit(None, dtype=pl.Int64)).alias("__row"),
            ).with_columns(
                vm["value"],
                vm["marker"],
                pl.lit(measure).alias("measure"),
                pl.lit(unit).alias("unit"),
                pl.lit(shown.get(column, column)).alias("__column"),
            )
        )
    out = pl.concat(parts) if parts else pl.DataFrame(schema=MEASURES_SCHEMA)
    out = out.with_columns(
        pl.lit(source).alias("source"),
        pl.lit(Path(file).name).alias("file"),
        pl.date(pl.col("year"), month, day).alias("reference_date"),
    )
    return finish_measures(out)


def format_number(value: float | None) -> str | None:
    if value is None:
        return None
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def published_cell(value: float | None, marker: str | None, default: str = "x") -> str:
    """A value as EES writes it: the number, or the suppression symbol."""
    if value is not None:
        return format_number(value)  # type: ignore[return-value]
    if marker is None:
        return default
    if marker == "blank":
        return ""
    return marker


def write_csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]], *, bom: bool) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    data = buf.getvalue().encode("utf-8")
    return (BOM + data) if bom else data


def read_csv_records(path: Path, encodings: Sequence[str]) -> tuple[str, list[list[str]]]:
    """A small CSV decoded (the first of `encodings` that works) and split into records, trailing blank
    lines dropped: the one reading step of read_csv_rows and read_csv_text (read_csv_strict streams)."""
    raw = path.read_bytes()
    if not raw.strip():
        raise EvalkitError("file is empty", file=path.name, expected="a header row and data rows")
    text = decode_text(raw, encodings, path.name).lstrip("\ufeff")
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise EvalkitError(f"not a well-formed CSV table: {exc}", file=path.name) from exc
    while records and not any(cell.strip() for cell in records[-1]):
        records.pop()
    return text, records


def read_csv_rows(path: Path, encodings: tuple[str, ...] = ("utf-8-sig",)) -> tuple[list[str], list[list[str]]]:
    """Read a small CSV as text: (header, rows), every row checked to have the header's width.

    Beside read_csv_strict because it keeps repeated header names (the 2021 statistical-neighbours
    file repeats `SNP` ten times) and rows as lists.
    Empty, undecodable, ragged and truncated files are rejected with one line naming the row.
    """
    path = Path(path)
    text, rows = read_csv_records(path, encodings)
    if len(rows) < 2:
        raise EvalkitError(
            "file has a header but no data rows", file=path.name, row=1, expected="a header row and data rows"
        )
    header = rows[0]
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            truncated = i == len(rows) and len(row) < len(header) and not text.endswith(("\n", "\r"))
            what = "the file looks truncated: " if truncated else ""
            raise EvalkitError(
                f"{what}row has {len(row)} fields but the header has {len(header)}",
                file=path.name,
                row=i,
                expected=f"{len(header)} comma-separated fields on every row",
            )
    return header, rows[1:]


def text_frame(header: list[str], rows: list[list[str]]) -> pl.DataFrame:
    """Rows of text as a Utf8 frame; blank cells become null."""
    cols = {h: [(r[i].strip() or None) for r in rows] for i, h in enumerate(header)}
    return pl.DataFrame(cols, schema={h: pl.Utf8 for h in header})


def read_csv_text(path: Path, encodings: Sequence[str] = ("utf-8-sig",), *, header_row: int = 1) -> pl.DataFrame:
    """Read a CSV as all-text columns; one-line EvalkitError for empty, undecodable or ragged files.

    (A local reader: ``common.read_text_table`` passes ``missing_utf8_is_empty_string``, which
    polars 2.1 no longer accepts.) Tries the encodings in order, so a UTF-8 file is fine where
    cp1252 is expected, but bytes that decode in none of them are an error naming the line.
    Rows are numbered as a spreadsheet shows them: the header is row ``header_row``.
    """
    _, records = read_csv_records(Path(path), encodings)
    if len(records) < 2:
        raise EvalkitError(
            "file has a header but no data rows" if records else "file is empty",
            file=path.name,
            row=header_row,
            expected="a header row and data rows",
        )
    header = [h.strip() for h in records[0]]
    if not any(header):
        raise EvalkitError(
            "no header row: the first line is blank",
            file=path.name,
            row=header_row,
            expected="a header row of column names",
        )
    width = len(header)
    for i, rec in enumerate(records[1:]):
        if len(rec) != width:
            raise EvalkitError(
                f"row has {len(rec)} fields but the header has {width} (truncated or ragged row)",
                file=path.name,
                row=header_row + 1 + i,
                column=header[min(len(rec), width) - 1] if rec else header[0],
                expected=f"{width} comma-separated fields",
            )
    if len(set(header)) != width:
        dup = next(h for h in header if header.count(h) > 1)
        raise EvalkitError(f"column {dup!r} appears twice in the header", file=path.name, row=header_row, column=dup)
    columns = list(zip(*records[1:]))
    return pl.DataFrame({h: pl.Series(h, list(col), dtype=pl.Utf8) for h, col in zip(header, columns)})
