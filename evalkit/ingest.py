"""Stage 1: read the published files, recognise each, parse it, write tidy Parquet and a manifest.

Everything is parsed and validated first; outputs are written only when every file passed, into a new
generation folder that becomes current in one atomic switch (`evalkit.generations`), so a bad file,
a crash or `kill -9` never leaves half-written or mixed outputs behind.
"""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType

import polars as pl

from evalkit import __version__, revisions, validation
from evalkit import generations as gens
from evalkit.errors import EvalkitError
from evalkit.io import atomic_write_bytes, sha256_file, write_parquet
from evalkit.releases import read_log, release_of
from evalkit.sources.common import KEEP_ROWS, check_not_truncated, check_text

# Order matters only for detection: the first module whose detect() accepts a file reads it.
SOURCE_MODULES = [
    "ofsted",
    "la_codes",
    "neighbours",
    "cla",
    "cin",
    "workforce",
    "population",
    "s251",
    "lait",
    "mhclg",
    "webb",
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
    add: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Parse every recognised file under `source_dir`; publish `<source>.parquet` files and the manifest
    as one new generation of `out_dir` (read it back with `evalkit.generations.open_current`)."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise EvalkitError("input folder not found", file=source_dir)
    if synthetic_demo is None:
        synthetic_demo = (source_dir / "SYNTHETIC_DEMO_DATA.txt").exists()
    modules = source_modules()
    files = sorted(p for p in source_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    parsed: list[ParsedFile] = []
    skipped: list[dict] = []
    found: list[tuple[Path, ModuleType]] = []
    first_copy: dict[str, str] = {}  # sha256 -> the first file with those bytes: a file is its content
    for path in files:
        rel = path.relative_to(source_dir).as_posix()
        digest = sha256_file(path)
        module = identify(path, modules)
        if module is None:
            skipped.append({"file": rel, "reason": "not a recognised publication", "sha256": digest})
            continue
        if digest in first_copy:
            skipped.append({"file": rel, "reason": f"identical copy of {first_copy[digest]}", "sha256": digest})
            continue
        first_copy[digest] = rel
        found.append((path, module))
    # Lookups first: the parsers that need one get it from inside --from, never from elsewhere.
    found.sort(key=lambda pm: pm[1].KIND != "lookup")
    for path, module in found:
        rel = path.relative_to(source_dir).as_posix()
        if progress:
            progress(rel)
        if path.suffix.lower() in (".csv", ".txt", ".tsv"):
            check_text(path)
            check_not_truncated(path)
        token = KEEP_ROWS.set(True)  # rows keep their file row and column until validated
        try:
            frame = module.parse(path, **_lookups_for(module, parsed, source_dir, synthetic_demo))
        finally:
            KEEP_ROWS.reset(token)
        parsed.append(ParsedFile(path=path, module=module, frame=frame))
    if not parsed:
        raise EvalkitError(
            "no recognised publication files", file=source_dir, expected="official CSV/ODS/XLSX/Parquet files"
        )

    _validate(parsed, synthetic_demo, in_force=_populations_in_force(out_dir) if add else None)
    log = read_log()
    entries = [_file_entry(item, source_dir, log) for item in parsed]
    for item, entry in zip(parsed, entries, strict=True):
        validation.check_within_release(item.frame, entry["source"], entry["release"], entry["release_from"])
    _name_rows(parsed, entries)
    outputs: dict[str, pl.DataFrame] = {}
    for item in parsed:
        outputs.setdefault(item.module.NAME, []).append(validation.strip_row_columns(item.frame))  # type: ignore[arg-type]
    tables = {name: _combine(frames) for name, frames in outputs.items()}  # type: ignore[arg-type]

    registry = source_dir / REGISTRY_FILE
    if registry.exists():  # checked before anything is written, like every other input
        from evalkit.sources.registry import load_registry

        load_registry(registry)
    manifest = {
        "evalkit_version": __version__,
        "synthetic_demo": synthetic_demo,
        "banner": "SYNTHETIC DEMO DATA" if synthetic_demo else None,
        "source_dir": source_dir.name if synthetic_demo else source_dir.as_posix(),
        "files": entries,
        "skipped": skipped,
        "outputs": {name: {"file": f"{name}.parquet", "rows": t.height} for name, t in sorted(tables.items())},
        "registry": {"file": REGISTRY_FILE, "sha256": sha256_file(registry)} if registry.exists() else None,
    }
    return publish(out_dir, manifest, tables, registry if registry.exists() else None, add=add)


INGEST_KEYS = ("evalkit_version", "synthetic_demo", "banner", "source_dir", "files", "skipped", "outputs", "registry")
CHANGES = "changes"  # what this ingest added and revised against the set in force (evalkit.revisions)


def _file_entry(item: ParsedFile, source_dir: Path, log: list[dict]) -> dict:
    digest = sha256_file(item.path)
    last_year = None
    if "year" in item.frame.columns and item.frame.height:
        last_year = item.frame["year"].max()
    year, how = release_of(item.path.name, digest, last_year=last_year, log=log)  # type: ignore[arg-type]
    return {
        "file": item.path.relative_to(source_dir).as_posix(),
        "sha256": digest,
        "bytes": item.path.stat().st_size,
        "source": item.module.NAME,
        "parser": item.module.__name__,
        "parser_version": item.module.PARSER_VERSION,
        "rows": item.frame.height,
        "release": year,
        "release_from": how,
    }


def _name_rows(parsed: list[ParsedFile], entries: list[dict]) -> None:
    """Rows carry their file's base name; two different files of one source with one base name (two
    releases saved in two folders) get `name#<sha256 prefix>` instead, recorded as `rows_file`."""
    seen: dict[tuple[str, str], int] = {}
    for entry in entries:
        key = (entry["source"], revisions.row_key(entry))
        seen[key] = seen.get(key, 0) + 1
    for item, entry in zip(parsed, entries, strict=True):
        if seen[(entry["source"], revisions.row_key(entry))] > 1:
            _rename_rows(item, entry, f"{revisions.row_key(entry)}#{entry['sha256'][:12]}")


def _rename_rows(item: ParsedFile, entry: dict, key: str) -> None:
    entry["rows_file"] = key
    if "file" in item.frame.columns:
        item.frame = item.frame.with_columns(pl.lit(key, dtype=pl.Utf8).alias("file"))


def publish(
    out_dir: Path, manifest: dict, tables: dict[str, pl.DataFrame], registry: Path | None, *, add: bool = False
) -> dict:
    """Write the whole output set as a new generation and switch to it (see evalkit.generations).

    With ``add``, the sources of the generation in force that this run did not read are carried
    over (and stay listed in the manifest); without it, the new set replaces the old one entirely.
    When nothing changed, the generation in force is kept, so a later stage's outputs stay valid.
    """
    out_dir = Path(out_dir)
    old_gen, old = gens.usable_previous(out_dir, required=add)  # a damaged set never blocks a full run
    if add and old is not None:
        manifest, tables = _merge_releases(old_gen, old, manifest, tables)
    changes = _changes(old_gen, old, manifest, tables) if old is not None else {}
    with gens.Generation(out_dir, "ingest") as gen:
        for name, table in sorted(tables.items()):
            write_parquet(gen.path / f"{name}.parquet", table)
        if add and old is not None:
            manifest = _carry_over(old_gen, old, manifest, gen.path)
        if revisions.any_change(changes):
            manifest = {**manifest, CHANGES: changes}
        if registry is not None:
            atomic_write_bytes(gen.path / REGISTRY_FILE, registry.read_bytes())
        if old is not None and _same_ingest(old, manifest, gen.path):
            shutil.rmtree(gen.path, ignore_errors=True)  # idempotent: keep the set in force (and its panel)
            return {k: old[k] for k in INGEST_KEYS if k in old} | {CHANGES: {}}
        published = gen.publish(manifest)
    return {k: published[k] for k in INGEST_KEYS if k in published} | {CHANGES: changes}


def _merge_releases(old_gen: Path, old: dict, manifest: dict, tables: dict) -> tuple[dict, dict]:
    """--add: a source this run read keeps the releases the set in force holds from other files.

    A file is its content: an old file with the same bytes as a new one is the same file (the new
    entry stands for it); an old file of other bytes is another release and stays, its rows with it.
    A new file whose rows would carry an old file's name gets `name#<sha256 prefix>` instead."""
    new_files = list(manifest["files"])
    new_shas = {f["sha256"] for f in new_files}
    files = list(new_files)
    merged = dict(tables)
    for name in sorted(tables):
        spec = old.get("outputs", {}).get(name)
        if spec is None:
            continue
        kept = [f for f in old.get("files", []) if f.get("source") == name and f["sha256"] not in new_shas]
        if not kept:
            continue
        kept_keys = {revisions.row_key(f) for f in kept}
        frame = tables[name]
        for entry in (f for f in new_files if f["source"] == name):
            key = revisions.row_key(entry)
            if key in kept_keys and "file" in frame.columns:
                unique = f"{entry['file'].rsplit('/', 1)[-1]}#{entry['sha256'][:12]}"
                frame = frame.with_columns(
                    pl.when(pl.col("file") == key).then(pl.lit(unique)).otherwise(pl.col("file")).alias("file")
                )
                entry["rows_file"] = unique
        old_rows = pl.read_parquet(old_gen / spec["file"])
        if "file" in old_rows.columns:
            old_rows = old_rows.filter(pl.col("file").is_in(sorted(kept_keys)))
        merged[name] = _combine([old_rows, frame])
        files += kept
    outputs = {name: {"file": f"{name}.parquet", "rows": t.height} for name, t in sorted(merged.items())}
    files = sorted(files, key=lambda f: (f["file"], f["source"], f["sha256"]))
    return {**manifest, "files": files, "outputs": outputs}, merged


def _changes(old_gen: Path, old: dict, manifest: dict, tables: dict) -> dict:
    """Per measures source of the new set: council-years added, revised and dropped (evalkit.revisions)."""
    out = {}
    for name, table in sorted(tables.items()):
        spec = old.get("outputs", {}).get(name)
        if spec is None or not {"la_code", "year", "measure", "value", "marker", "file"} <= set(table.columns):
            continue
        before = pl.read_parquet(old_gen / spec["file"])
        old_files = [f for f in old.get("files", []) if f.get("source") == name]
        new_files = [f for f in manifest["files"] if f.get("source") == name]
        out[name] = revisions.compare(before, old_files, table, new_files)
    return out


def _carry_over(old_gen: Path, old: dict, manifest: dict, target: Path) -> dict:
    """--add: keep the old generation's sources this run did not read, with their manifest entries."""
    new_sources = set(manifest["outputs"])
    outputs = dict(manifest["outputs"])
    files = list(manifest["files"])
    for name, spec in old.get("outputs", {}).items():
        if name in new_sources:
            continue
        gens.link_or_copy(old_gen / spec["file"], target / spec["file"])
        outputs[name] = spec
        files += [f for f in old.get("files", []) if f.get("source") == name]
    merged = {
        **manifest,
        "outputs": dict(sorted(outputs.items())),
        "files": sorted(files, key=lambda f: (f["file"], f["source"])),
    }
    if manifest.get("registry") is None and old.get("registry") and (old_gen / REGISTRY_FILE).is_file():
        gens.link_or_copy(old_gen / REGISTRY_FILE, target / REGISTRY_FILE)
        merged["registry"] = old["registry"]
    merged["added_to"] = old.get("source_dir")
    return merged


def _same_ingest(old: dict, manifest: dict, new_dir: Path) -> bool:
    """Would the new set equal the ingest part of the set in force (which may also hold a panel)?"""
    if any(old.get(k) != manifest.get(k) for k in INGEST_KEYS):
        return False
    later = set(old.get("panel", {}).get("files", []))
    old_names = sorted(n for n in old["checksums"] if n not in later)
    names = sorted(p.name for p in new_dir.iterdir())
    return names == old_names and all(sha256_file(new_dir / n) == old["checksums"][n] for n in names)


PROVIDER_LOOKUP = "d2i_Provider_data_lookup.csv"


def _lookups_for(module: ModuleType, parsed: list[ParsedFile], source_dir: Path, synthetic_demo: bool) -> dict:
    """Ofsted needs DfE's LA list (and, for the D2I history, the provider lookup): from --from only.

    The synthetic demo's councils are fictional; their list comes from the demo's own generator."""
    if module.NAME != "ofsted":
        return {}
    las = [item.frame for item in parsed if item.module.NAME == "la_codes"]
    if not las and synthetic_demo:
        from evalkit.demo import dgp

        las = [
            dgp._councils()
            .select("la_code", "gss_code", "la_name")
            .with_columns(status=pl.lit("live"), is_joint=pl.lit(False))
        ]
    provider = sorted(p for p in source_dir.rglob(PROVIDER_LOOKUP) if p.is_file())
    return {"las": pl.concat(las) if las else False, "provider_lookup": provider[0] if provider else False}


def _validate(
    parsed: list[ParsedFile], synthetic_demo: bool, in_force: list[tuple[pl.DataFrame, str]] | None = None
) -> None:
    """The semantic rules of evalkit.validation, per file, with LA codes checked against the lookup in force;
    then child populations across publications, the set in force included for `--add` (only this run's
    files can be refused)."""
    lookups = {item.module.NAME: item.frame for item in parsed if item.module.NAME == "la_codes"}
    known = validation.known_codes_from(
        {"la_codes": pl.concat(list(lookups.values()))} if lookups else {}, synthetic_demo=synthetic_demo
    )
    for item in parsed:
        validation.check_measures(item.frame, item.module.NAME, known=known)
    files = [(item.frame, item.module.NAME) for item in parsed]
    validation.check_populations_across(files + (in_force or []), known=known, checked=len(files))


def _populations_in_force(out_dir: Path) -> list[tuple[pl.DataFrame, str]]:
    """Each file's rows of the sources with child populations in the set in force (for `ingest --add`);
    the set is verified against its checksums first, so its Parquet files are the ones evalkit wrote."""
    gen, manifest = gens.usable_previous(Path(out_dir), required=True)
    if gen is None or manifest is None:
        return []
    out = []
    for name, spec in sorted((manifest.get("outputs") or {}).items()):
        rules = validation.SOURCES.get(name)
        if rules is None or not rules.populations or not isinstance(spec, dict):
            continue
        table = pl.read_parquet(gen / str(spec.get("file")))
        if "file" in table.columns:
            out += [(part, name) for _, part in sorted(table.partition_by("file", as_dict=True).items())]
    return out


def _combine(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """Stack one source's files; sort on every column so file order on disk never changes the bytes."""
    table = pl.concat(frames, how="diagonal_relaxed")
    return table.sort(table.columns, nulls_last=True)
