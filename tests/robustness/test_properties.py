"""Property tests: demo writers round-trip, parsers fail only with EvalkitError, the panel is sane.

Deterministic (derandomize=True) and bounded, so a failure reproduces on every machine.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.demo import writers
from evalkit.errors import EvalkitError
from evalkit.ingest import source_modules
from evalkit.panel import build
from evalkit.sources import cla, la_codes, neighbours, ofsted, population, s251, workforce
from evalkit.sources.common import JUDGEMENTS_SCHEMA, MARKERS, MEASURES_SCHEMA

SETTINGS = settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(SETTINGS, max_examples=30)
MALFORMED = Path(__file__).resolve().parents[1] / "sources" / "malformed"

codes = st.integers(1, 99).map(lambda i: f"{i:03d}")
years = st.integers(2010, 2025)
names = (
    st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ'-,&\"()"), min_size=1, max_size=20)
    .map(str.strip)
    .filter(bool)
)
# markers as the tidy frame holds them (normalised: lower case, stripped); "blank" = an empty cell
TIDY_MARKERS = sorted(MARKERS | {"blank"})
counts = st.integers(0, 2_000_000).map(float)


def cell(values: st.SearchStrategy, markers: list[str] = TIDY_MARKERS) -> st.SearchStrategy:
    """(value, marker): a number with no marker, or null with a marker."""
    return st.one_of(values.map(lambda v: (v, None)), st.sampled_from(markers).map(lambda m: (None, m)))


def _council_years(draw, min_size: int = 1, max_size: int = 6) -> list[tuple[int, str]]:
    return draw(st.lists(st.tuples(years, codes), min_size=min_size, max_size=max_size, unique=True))


def _frame(rows: list[dict]) -> pl.DataFrame:
    schema = {
        "year": pl.Int32,
        "la_code": pl.Utf8,
        "gss_code": pl.Utf8,
        "la_name": pl.Utf8,
        "measure": pl.Utf8,
        "value": pl.Float64,
        "marker": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema)


KEY = ["year", "la_code", "gss_code", "la_name", "measure", "value", "marker"]


def _same_rows(parsed: pl.DataFrame, tidy: pl.DataFrame) -> None:
    got = parsed.select(KEY).sort(KEY, nulls_last=True)
    want = tidy.select([pl.col(c).cast(MEASURES_SCHEMA[c]) for c in KEY]).sort(KEY, nulls_last=True)
    assert got.equals(want, null_equal=True), (got, want)


@st.composite
def cla_tidy(draw) -> pl.DataFrame:
    rows = []
    for year, code in _council_years(draw):
        name = draw(names)
        for measure, values in (
            ("cla_at_31_march", counts),
            ("cla_starting", counts),
            ("cla_ceasing", counts),
            ("cla_rate_per_10000", st.integers(0, 5000).map(float)),
            ("population_0_17_cla_denominator", st.integers(1, 900_000).map(float)),
        ):
            value, marker = draw(cell(values))
            rows.append(
                {
                    "year": year,
                    "la_code": code,
                    "gss_code": f"E99000{code}",
                    "la_name": name,
                    "measure": measure,
                    "value": value,
                    "marker": marker,
                }
            )
    return _frame(rows)


@st.composite
def population_tidy(draw) -> pl.DataFrame:
    rows = []
    for year, code in _council_years(draw):
        value, marker = draw(cell(counts))
        rows.append(
            {
                "year": year,
                "la_code": code,
                "gss_code": f"E99000{code}",
                "la_name": draw(names),
                "measure": "population_0_17",
                "value": value,
                "marker": marker,
            }
        )
    return _frame(rows)


pounds = st.integers(0, 10**11).map(lambda pence: pence / 100)
S251_MARKERS = sorted(MARKERS)  # write_demo writes a tidy "blank" marker as the text "blank": not representable


NAMES_WITHOUT_QUOTE = names.filter(lambda n: '"' not in n)


@st.composite
def s251_tidy(draw, name_strategy: st.SearchStrategy = NAMES_WITHOUT_QUOTE) -> pl.DataFrame:
    # council names with a double quote are left to test_s251_quote_in_name_round_trip (a known defect)
    rows = []
    for year, code in _council_years(draw):
        name = draw(name_strategy)
        parts = {
            m: draw(cell(pounds, S251_MARKERS)) for m in ("spend_cla", "spend_safeguarding", "spend_family_support")
        }
        total = draw(cell(pounds, S251_MARKERS))
        if any(v is None for v, _ in parts.values()) and total[0] is not None:
            total = (None, draw(st.sampled_from(S251_MARKERS)))
        csc = total if total[0] is None else (round(sum(v for v, _ in parts.values()) + draw(pounds), 2), None)
        for measure, (value, marker) in {
            **parts,
            "spend_cyp_total": draw(cell(pounds, S251_MARKERS)),
            "spend_csc_total": csc,
        }.items():
            rows.append(
                {
                    "year": year,
                    "la_code": code,
                    "gss_code": f"E99000{code}",
                    "la_name": name,
                    "measure": measure,
                    "value": value,
                    "marker": marker,
                }
            )
    return _frame(rows)


@pytest.fixture(scope="module")
def demo_judgements() -> pl.DataFrame:
    from evalkit.demo import dgp

    return dgp.generate(dgp.SEED).judgements


GRADES = ["outstanding", "good", "requires_improvement", "inadequate"]


# --- 1. write_demo -> parse round trips -----------------------------------------------------------------


@SETTINGS
@given(tidy=cla_tidy())
def test_cla_round_trip(tidy: pl.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (path,) = writers.write_cla(tidy, Path(tmp))
        _same_rows(cla.parse(path), tidy)


@SETTINGS
@given(tidy=population_tidy())
def test_population_round_trip(tidy: pl.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (path,) = writers.write_population(tidy, Path(tmp))
        _same_rows(population.parse(path), tidy)


@SETTINGS
@given(tidy=s251_tidy())
def test_s251_round_trip(tidy: pl.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (path,) = writers.write_s251(tidy, Path(tmp))
        _same_rows(s251.parse(path), tidy)


def test_s251_quote_in_name_round_trip(tmp_path: Path) -> None:
    rows = []
    for code, name in (("001", 'The "New" Council'), ("002", "Plain")):
        for measure in (
            "spend_cla",
            "spend_safeguarding",
            "spend_family_support",
            "spend_cyp_total",
            "spend_csc_total",
        ):
            rows.append(
                {
                    "year": 2015,
                    "la_code": code,
                    "gss_code": f"E99000{code}",
                    "la_name": name,
                    "measure": measure,
                    "value": 3.0 if measure == "spend_csc_total" else 1.0,
                    "marker": None,
                }
            )
    tidy = _frame(rows)
    (path,) = writers.write_s251(tidy, tmp_path)
    _same_rows(s251.parse(path), tidy)


@FEW
@given(data=st.data())
def test_ofsted_round_trip(demo_judgements: pl.DataFrame, data) -> None:
    """Demo judgements re-coded to other fictional councils, with arbitrary grades."""
    old = sorted(demo_judgements["la_code"].unique().to_list())
    picked = data.draw(st.lists(st.sampled_from(old), min_size=1, max_size=6, unique=True))
    new = data.draw(st.lists(codes, min_size=len(picked), max_size=len(picked), unique=True))
    recode = dict(zip(picked, new))
    frame = demo_judgements.filter(pl.col("la_code").is_in(picked))
    grades = data.draw(st.lists(st.sampled_from(GRADES), min_size=frame.height, max_size=frame.height))
    frame = frame.with_columns(
        pl.col("la_code").replace_strict(recode, return_dtype=pl.Utf8),
        pl.col("la_code")
        .replace_strict(recode, return_dtype=pl.Utf8)
        .map_elements(lambda c: f"E99000{c}", return_dtype=pl.Utf8)
        .alias("gss_code"),
        pl.Series("grade", grades, dtype=pl.Utf8),
    )
    # The 2023 SIF sheet has no GSS code column and the 2025 ILACS sheet no inspection end date:
    # those two fields are not carried by the official layouts, so they are not compared.
    cols = [c for c in JUDGEMENTS_SCHEMA if c not in ("file", "source", "gss_code", "inspection_end")]
    with tempfile.TemporaryDirectory() as tmp:
        las = (
            frame.select("la_code", "gss_code", "la_name")
            .unique(maintain_order=True)
            .with_columns(status=pl.lit("live"), is_joint=pl.lit(False))
        )
        back = pl.concat([ofsted.parse(p, las=las) for p in writers.write_ofsted(frame, Path(tmp))])
    # the workbooks carry every judgement column; the ones the input did not have come back ungraded
    extra = back.filter(~pl.col("judgement").is_in(frame["judgement"].unique().to_list()))
    assert extra["grade"].null_count() == extra.height
    back = back.filter(pl.col("judgement").is_in(frame["judgement"].unique().to_list()))
    assert (
        back.select(cols)
        .sort(cols, nulls_last=True)
        .equals(frame.select(cols).sort(cols, nulls_last=True), null_equal=True)
    )


# --- 2. parsers: arbitrary bytes / text fail only with EvalkitError -------------------------------------

# (module, file name that detect() expects, a valid header line or None for binary formats)
TARGETS = [
    (cla, cla.DEMO_FILE, ",".join(cla.DEMO_HEADER)),
    (population, population.DEMO_FILE, ",".join(population.DEMO_HEADER)),
    (s251, s251.DEMO_FILE, ",".join(s251.DEMO_COLUMNS)),
    (s251, "outturn_1314.csv", "LA,LA Name,CYPServiceDescription,Total Expenditure (k),NET Current Expenditure (m)"),
    (workforce, "csww_indicators.csv", None),
    (None, "cin_referrals.csv", None),  # cin: header from the shared malformed folder
    (la_codes, "la_codes.csv", "new_la_code,old_la_code,la_name,date_of_operation,date_of_termination"),
    (neighbours, "statistical_neighbours.csv", ",".join(neighbours.HEADER_2025)),
    (ofsted, "ofsted_csc_ilacs_history.csv", ",".join(ofsted.D2I_COLUMNS)),
    (ofsted, "ofsted_LA_Inspection_Outcomes_as_at_31_March_2025.ods", None),
    (None, "lait.parquet", None),
    (None, "RO3_2024-25.xlsx", None),
    (None, "RO3_2024-25.csv", None),
]


def _module(name: str):
    return next(m for m in source_modules() if m.__name__.endswith("." + name))


def _header(module, fname: str, header: str | None) -> str | None:
    if header is not None:
        return header
    for stem in ("workforce", "cin"):
        if module.__name__.endswith(stem):
            return (MALFORMED / f"{stem}_non_numeric.csv").read_text(encoding="utf-8").splitlines()[0]
    return None


def _targets():
    out = []
    for module, fname, header in TARGETS:
        if module is None:
            module = _module("cin" if fname.startswith("cin") else "lait" if fname.endswith(".parquet") else "mhclg")
        out.append(pytest.param(module, fname, _header(module, fname, header), id=f"{module.NAME}-{fname}"))
    return out


def _parse_only_evalkit_errors(module, path: Path) -> None:
    try:
        module.detect(path)
    except EvalkitError:
        pass
    try:
        frame = module.parse(path)
    except EvalkitError as exc:
        assert "\n" not in exc.one_line()
        return
    assert isinstance(frame, pl.DataFrame)


@pytest.mark.parametrize(("module", "fname", "header"), _targets())
@FEW
@given(blob=st.binary(max_size=600))
def test_arbitrary_bytes_raise_only_evalkit_error(module, fname: str, header: str | None, blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / fname
        path.write_bytes(blob)
        _parse_only_evalkit_errors(module, path)


csv_text = st.lists(
    st.lists(
        st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
        | st.sampled_from(
            [
                "",
                "x",
                "c",
                "2024",
                "201415",
                "Local authority",
                "National",
                "001",
                "E99000001",
                "1,234",
                "12%",
                "NaN",
                "-1",
                '"',
            ]
        ),
        min_size=0,
        max_size=16,
    ).map(lambda cells: ",".join(cells)),
    max_size=8,
).map(lambda lines: "\n".join(lines))


@pytest.mark.parametrize(("module", "fname", "header"), [p for p in _targets() if p.values[2] is not None])
@FEW
@given(body=csv_text)
def test_arbitrary_text_after_a_valid_header_raises_only_evalkit_error(
    module, fname: str, header: str, body: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / fname
        path.write_text(header + "\n" + body, encoding="utf-8")
        assert module.detect(path), "the header should make detect() claim the file"
        _parse_only_evalkit_errors(module, path)


# --- 3. the panel builder on small valid tidy inputs -----------------------------------------------------


def _measures(rows: list[dict], source: str, ref_month: int, ref_day: int) -> pl.DataFrame:
    frame = _frame(rows).with_columns(
        pl.lit(source).alias("source"),
        pl.lit(f"{source}.csv").alias("file"),
        pl.date(pl.col("year"), ref_month, ref_day).alias("reference_date"),
        pl.lit("count").alias("unit"),
    )
    return frame.select([pl.col(c).cast(t) for c, t in MEASURES_SCHEMA.items()])


@st.composite
def panel_inputs(draw, min_population: int = 1):
    units = draw(st.lists(codes, min_size=1, max_size=5, unique=True))
    span = draw(st.lists(years, min_size=1, max_size=4, unique=True))
    cla_rows, pop_rows, spend_rows = [], [], []
    for code in units:
        for year in span:
            if draw(st.booleans()) or not cla_rows:
                v, m = draw(cell(counts))
                cla_rows.append(
                    {
                        "year": year,
                        "la_code": code,
                        "gss_code": f"E99000{code}",
                        "la_name": f"Council {code}",
                        "measure": "cla_at_31_march",
                        "value": v,
                        "marker": m,
                    }
                )
            if draw(st.booleans()):
                v, m = draw(cell(st.integers(min_population, 900_000).map(float)))
                pop_rows.append(
                    {
                        "year": year - 1,
                        "la_code": code,
                        "gss_code": f"E99000{code}",
                        "la_name": f"Council {code}",
                        "measure": "population_0_17",
                        "value": v,
                        "marker": m,
                    }
                )
            if draw(st.booleans()):
                v, m = draw(cell(pounds, S251_MARKERS))
                spend_rows.append(
                    {
                        "year": year,
                        "la_code": code,
                        "gss_code": f"E99000{code}",
                        "la_name": f"Council {code}",
                        "measure": "spend_csc_total",
                        "value": v,
                        "marker": m,
                    }
                )
    treated = draw(
        st.lists(
            st.tuples(st.sampled_from(units), st.dates(dt.date(2009, 1, 1), dt.date(2025, 12, 31))),
            max_size=2,
            unique_by=lambda t: t[0],
        )
    )
    return cla_rows, pop_rows, spend_rows, treated


def _write_processed(folder: Path, cla_rows, pop_rows, spend_rows, treated) -> None:
    from evalkit.generations import Generation
    from evalkit.io import write_parquet
    from evalkit.sources.registry import COLUMNS as REGISTRY_COLUMNS

    tables = {"cla": _measures(cla_rows, "cla", 3, 31)}
    if pop_rows:
        tables["population"] = _measures(pop_rows, "population", 6, 30)
    if spend_rows:
        tables["s251"] = _measures(spend_rows, "s251", 3, 31)
    with Generation(folder, "ingest") as gen:
        for name, table in tables.items():
            write_parquet(gen.path / f"{name}.parquet", table)
        lines = [",".join(REGISTRY_COLUMNS)] + [
            f"P-{i},{code},E99000{code},Council {code},Body {i},independent_trust,{go.isoformat()},seen,,,,yes,treated,property test"
            for i, (code, go) in enumerate(treated)
        ]
        (gen.path / "adm_registry.csv").write_text("\n".join(lines) + "\n")
        gen.publish(
            {
                "synthetic_demo": True,
                "outputs": {n: {"file": f"{n}.parquet", "rows": t.height} for n, t in tables.items()},
            }
        )


def _check_panel(frame: pl.DataFrame, cla_rows: list[dict]) -> None:
    assert frame.select("unit_code", "year").is_duplicated().sum() == 0, "more than one row per council-year"
    expected_keys = {(r["la_code"], r["year"]) for r in cla_rows}
    assert expected_keys <= set(zip(frame["unit_code"].to_list(), frame["year"].to_list()))
    for column in [c for c in frame.columns if c.endswith("_per_10000") or c.endswith("_per_child")]:
        values = [v for v in frame[column].to_list() if v is not None]
        assert all(math.isfinite(v) and v >= 0 for v in values), (column, values)


@SETTINGS
@given(inputs=panel_inputs())
def test_panel_one_row_per_council_year_and_sane_rates(inputs) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write_processed(folder, *inputs)
        frame, diagnostics = build.build_panel(folder)
    _check_panel(frame, inputs[0])
    assert diagnostics["rows"] == frame.height


def test_panel_zero_population_gives_no_infinite_rate(tmp_path: Path) -> None:
    cla_rows = [
        {
            "year": 2020,
            "la_code": "001",
            "gss_code": "E99000001",
            "la_name": "Council 001",
            "measure": "cla_at_31_march",
            "value": 10.0,
            "marker": None,
        }
    ]
    pop_rows = [
        {
            "year": 2019,
            "la_code": "001",
            "gss_code": "E99000001",
            "la_name": "Council 001",
            "measure": "population_0_17",
            "value": 0.0,
            "marker": None,
        }
    ]
    _write_processed(tmp_path, cla_rows, pop_rows, [], [])
    frame, _ = build.build_panel(tmp_path)
    _check_panel(frame, cla_rows)


# --- Crashes found by the properties above at higher example counts (max_examples=400) ------------------

CRASH_CSV_STRICT = (
    "DEFECT: evalkit/sources/cla.py:read_csv_strict (shared by cla, population, cin, workforce) raises "
    "IndexError when the header line is blank ('\\r' then data: names[-1] of an empty header) and "
    "_csv.Error in its decode-error branch (csv.reader over a str holding '\\r'); fix: reject a blank "
    "header with EvalkitError(row=1) and parse the header with io.StringIO(text, newline='') inside try/except csv.Error"
)
CRASH_HEAD_LINE = (
    "DEFECT: evalkit/sources/cla.py:head_line does splitlines()[0] on a BOM-only file (IndexError in "
    "detect and in parse via _kind); fix: lines = text.lstrip('\\ufeff').splitlines(); return lines[0] if lines else ''"
)
CRASH_S251 = (
    "DEFECT: evalkit/sources/common.py:read_csv_text raises IndexError (header[-1] of an empty header) when "
    "the first line is blank; fix: reject a blank header line with EvalkitError(row=header_row)"
)


@pytest.mark.parametrize(
    ("module", "fname", "blob"),
    [
        pytest.param(cla, cla.DEMO_FILE, b"\r\x00", id="cla-blank-header-line"),
        pytest.param(cla, cla.DEMO_FILE, b"\r\x80", id="cla-blank-header-undecodable"),
        pytest.param(population, population.DEMO_FILE, b"\r1\n", id="population-blank-header-line"),
        pytest.param(cla, cla.DEMO_FILE, b"\xef\xbb\xbf", id="cla-bom-only"),
        pytest.param(s251, "outturn_1314.csv", b"\r\x00", id="s251-blank-header-line"),
        pytest.param(s251, "outturn_1314.csv", b"\xef\xbb\xbf", id="s251-bom-only"),
    ],
)
def test_found_parser_crashes(module, fname: str, blob: bytes, tmp_path: Path) -> None:
    path = tmp_path / fname
    path.write_bytes(blob)
    _parse_only_evalkit_errors(module, path)
