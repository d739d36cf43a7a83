"""Inputs only from where the user pointed: the Ofsted reader's lookups come from inside --from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.ingest import ingest
from tests.conftest import need_reference

F2025 = "ofsted_LA_Inspection_Outcomes_as_at_31_March_2025.ods"


def test_lookup_beside_the_folder_is_not_read(tmp_path: Path) -> None:
    """dfe_las.csv in the parent of --from is ignored; the 2025 file alone gets the right error."""
    root = need_reference()
    (tmp_path / "ofsted").mkdir()
    shutil.copyfile(root / "ofsted" / F2025, tmp_path / "ofsted" / F2025)
    shutil.copyfile(root / "dfe_las.csv", tmp_path / "dfe_las.csv")  # outside --from
    with pytest.raises(EvalkitError) as err:
        ingest(tmp_path / "ofsted", tmp_path / "out")
    line = err.value.one_line()
    assert F2025 in line and "dfe_las.csv" in line and "duplicated" not in line


def test_lookup_inside_the_folder_is_used_and_recorded(tmp_path: Path) -> None:
    root = need_reference()
    src = tmp_path / "src"
    (src / "ofsted").mkdir(parents=True)
    shutil.copyfile(root / "ofsted" / F2025, src / "ofsted" / F2025)
    shutil.copyfile(root / "dfe_las.csv", src / "dfe_las.csv")
    manifest = ingest(src, tmp_path / "out")
    recorded = {f["file"]: f["source"] for f in manifest["files"]}
    assert recorded == {"dfe_las.csv": "la_codes", f"ofsted/{F2025}": "ofsted"}
