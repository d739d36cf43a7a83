"""Stage 1: read the published files, recognise each, parse it, write tidy Parquet and a manifest.

Everything is parsed in memory first; outputs are written only when every file parsed, each by
temporary file and rename, so a bad file never leaves half-written or mixed outputs behind.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType

import polars as pl

from evalkit import __version__
from evalkit.errors import EvalkitError
from evalkit.io import sha256_file, write_json, write_parquet

# Order matters only for detection: the first module whose detect() accepts a file reads it.
SOURCE_MODULES = [
    "ofsted", "la_codes", "neighbours", "cla", "cin", "workforce", "population", "s251", "lait", "mhclg", "webb",
]
MANIFEST = "manifest.json"
REGISTRY_FILE = "adm_registry.csv"  # a folder may carry its own registry (the demo does)


def demo_dir() -> Path:
    return Path(str(resources.files("evalkit") / "demo" / "files"))


def source_modules() -> list[ModuleType]:
    return [importlib.import_module(f"evalkit.sources.{name}") for name in SOURCE_MODULES]


@dataclass
class ParsedFile:
    path: Path
    module: ModuleType
    frame: pl.DataFrame


def identify(path: Path, modules: list[ModuleType]) -> ModuleType | None:
    for module in modules:
        try:
            if module.detect(path):
                return module
        except EvalkitError:
            raise
        except Exception:  # a detector that cannot read the file simply does not claim it
            continue
    return None


def ingest(
    source_dir: Path,
    out_dir: Path,
    *,
    synthetic_demo: bool | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Parse every recognised file under `source_dir`; write `<source>.parquet` files and the manifest."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise EvalkitError("input folder not found", file=source_dir)
    if synthetic_demo is None:
        synthetic_demo = (source_dir / "SYNTHETIC_DEMO_DATA.txt").exists()
    modules = source_modules()
    files = sorted(p for p in source_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    parsed: list[ParsedFile] = []
    skipped: list[dict] = []
    for path in files:
        rel = path.relative_to(source_dir).as_posix()
        module = identify(path, modules)
        if module is None:
            skipped.append({"file": rel, "reason": "not a recognised publication", "sha256": sha256_file(path)})
            continue
        if progress:
            progress(rel)
        frame = module.parse(path)
        parsed.append(ParsedFile(path=path, module=module, frame=frame))
    if not parsed:
        raise EvalkitError("no recognised publication files", file=source_dir, expected="official CSV/ODS/XLSX/Parquet files")

    outputs: dict[str, pl.DataFrame] = {}
    for item in parsed:
        outputs.setdefault(item.module.NAME, []).append(item.frame)  # type: ignore[arg-type]
    tables = {name: _combine(frames) for name, frames in outputs.items()}  # type: ignore[arg-type]

    registry = source_dir / REGISTRY_FILE
    if registry.exists():  # checked before anything is written, like every other input
        from evalkit.panel.registry import load_registry

        load_registry(registry)
    manifest = {
        "evalkit_version": __version__,
        "synthetic_demo": synthetic_demo,
        "banner": "SYNTHETIC DEMO DATA" if synthetic_demo else None,
        "source_dir": source_dir.name if synthetic_demo else source_dir.as_posix(),
        "files": [
            {
                "file": item.path.relative_to(source_dir).as_posix(),
                "sha256": sha256_file(item.path),
                "bytes": item.path.stat().st_size,
                "source": item.module.NAME,
                "parser": item.module.__name__,
                "parser_version": item.module.PARSER_VERSION,
                "rows": item.frame.height,
            }
            for item in parsed
        ],
        "skipped": skipped,
        "outputs": {name: {"file": f"{name}.parquet", "rows": t.height} for name, t in sorted(tables.items())},
        "registry": {"file": REGISTRY_FILE, "sha256": sha256_file(registry)} if registry.exists() else None,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, table in sorted(tables.items()):
        write_parquet(out_dir / f"{name}.parquet", table)
    if registry.exists():
        from evalkit.io import atomic_write_bytes

        atomic_write_bytes(out_dir / REGISTRY_FILE, registry.read_bytes())
    else:
        (out_dir / REGISTRY_FILE).unlink(missing_ok=True)
    write_json(out_dir / MANIFEST, manifest)
    return manifest


def _combine(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Stack one source's files; sort on every column so file order on disk never changes the bytes."""
    table = pl.concat(frames, how="diagonal_relaxed")
    return table.sort(table.columns, nulls_last=True)
