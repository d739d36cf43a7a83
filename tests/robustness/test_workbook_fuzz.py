"""The workbook guard sees what calamine will see (issue #30, item 1), checked by fuzzing.

calamine finds sheets through xl/_rels/workbook.xml.rels (any member name, any case) and numbers
cells without an `r=` reference by position. A 2 KB workbook with its far cell hidden either way
made calamine allocate 549,755,813,888 bytes and abort the process (SIGABRT, exit 134). Here each
generated workbook goes through the guard and, when the guard lets it pass, through calamine
(every sheet loaded), in a child process with an address-space limit: the child must finish, and the
guard's decision must match the used rectangle the generator put in (refused exactly when
rows x columns passes MAX_SHEET_CELLS).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.sources.workbook_guard import MAX_SHEET_CELLS, check_workbook
from tests.robustness import workbooks

CHILD = textwrap.dedent(
    """
    import json, sys
    try:
        import resource  # POSIX: a runaway allocation fails inside the child, never the machine
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    except (ImportError, ValueError, OSError):
        pass
    import fastexcel
    from evalkit.errors import EvalkitError
    from evalkit.sources.workbook_guard import check_workbook

    for path in json.loads(sys.argv[1]):
        print("start", path, flush=True)
        try:
            check_workbook(path)
        except EvalkitError as exc:
            print("refused", path, exc.one_line().replace(chr(10), " "), flush=True)
            continue
        reader = fastexcel.read_excel(path)
        for name in reader.sheet_names:
            reader.load_sheet_by_name(name, header_row=None)
        print("read", path, flush=True)
    """
)

SHEET_PATHS = [
    "xl/worksheets/sheet1.xml",
    "xl/worksheets/SHEET1.XML",
    "xl/elsewhere/data.xml",
    "hidden/blob",
    "xl/worksheets/Sheet1.Xml",
]


def _run_child(paths: list[Path], timeout: float = 300) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps([str(p) for p in paths])],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = done.stdout.splitlines()
    last = next((line.split(" ", 1)[1] for line in reversed(lines) if line.startswith("start ")), None)
    assert done.returncode == 0, f"reader died (exit {done.returncode}) on {last}: {done.stderr[-600:]}"
    return {line.split(" ")[1]: line.split(" ")[0] for line in lines if not line.startswith("start ")}


def _case(rng: random.Random, i: int) -> tuple[bytes, bool, str]:
    """One workbook: where its sheet lives, whether cells/rows carry references, and how far it reaches."""
    sheet_path = rng.choice(SHEET_PATHS)
    cell_refs, row_refs = rng.random() < 0.5, rng.random() < 0.5
    # Rows by position cost 6 bytes each; past ~170,000 of them the member passes the 200:1 ratio cap
    # (a refusal for another reason), so positional rows stop at 150,000.
    far_row = rng.choice([3, 40, 5000, 300_000, 1_048_576] if row_refs else [3, 40, 5000, 150_000])
    far_col = rng.choice([2, 30, 400, 16_384])
    cells = [(1, 1, "Code"), (2, 1, "E06000001")]
    # The far corner as two cells (row far in column 1, column far in row 2): the rectangle is their product.
    cells += [(far_row, 1, "x"), (2, far_col, "y")]
    dimension = f"A1:{workbooks._col_letters(far_col)}{far_row}" if rng.random() < 0.3 else None
    raw = workbooks.xlsx_variant(
        cells, sheet_path=sheet_path, cell_refs=cell_refs, row_refs=row_refs, dimension=dimension
    )
    label = f"case{i}-{sheet_path.replace('/', '_')}-refs{int(cell_refs)}{int(row_refs)}-{far_row}x{far_col}"
    return raw, far_row * far_col > MAX_SHEET_CELLS, label


@pytest.mark.parametrize(
    "sheet_path,cell_refs,row_refs",
    [
        ("xl/elsewhere/data.xml", True, True),  # the sheet stored where only the relationships say
        ("xl/worksheets/SHEET1.XML", True, True),  # upper case
        ("xl/worksheets/sheet1.xml", False, True),  # the far column by position, the row by reference
        ("xl/worksheets/sheet1.xml", False, False),  # both by position
    ],
)
def test_issue_far_cells_are_refused(tmp_path: Path, sheet_path: str, cell_refs: bool, row_refs: bool) -> None:
    far_row = 1_048_576 if row_refs else 150_000
    cells = [(1, 1, "Code"), (far_row, 1, "x"), (2, 16_384, "y")]
    raw = workbooks.xlsx_variant(cells, sheet_path=sheet_path, cell_refs=cell_refs, row_refs=row_refs)
    path = tmp_path / "mye23tablesew.xlsx"
    path.write_bytes(raw)
    assert path.stat().st_size < 64 * 1024
    assert _run_child([path]) == {str(path): "refused"}
    with pytest.raises(EvalkitError, match="used range"):
        check_workbook(path)


def test_fuzz_generated_workbooks_never_abort(tmp_path: Path) -> None:
    rng = random.Random(30)  # seed recorded: the issue's number
    paths, expected = [], {}
    for i in range(40):
        raw, too_big, label = _case(rng, i)
        path = tmp_path / f"{label}.xlsx"
        path.write_bytes(raw)
        paths.append(path)
        expected[str(path)] = "refused" if too_big else "read"
    got = _run_child(paths)
    assert got == expected
    assert set(expected.values()) == {"read", "refused"}  # the run covered both outcomes
