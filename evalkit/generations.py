"""A stage's outputs are one generation: written whole into a new folder, switched in by one atomic write.

Layout of a stage folder (e.g. ``data/processed/``)::

    CURRENT                      one line: the name of the generation in force
    generations/<name>/          every output of one run, and manifest.json listing each with sha256

Why a pointer file and not a renamed directory: ``os.replace`` of a *file* is atomic on POSIX and on
Windows (MoveFileEx with MOVEFILE_REPLACE_EXISTING, same volume), while replacing a non-empty
*directory* by rename fails on Windows and is not atomic everywhere. So a generation is written
completely (files fsynced), then ``CURRENT`` is replaced in one ``os.replace`` (fsynced too). A
crash or ``kill -9`` before that replace leaves the old ``CURRENT`` pointing at the old, untouched
generation; after it, the new one is complete. Unreferenced folders left by a crash are never read
and are removed by the next run that publishes. A generation is never modified once published.

Readers go through :func:`open_current`, which checks every file against the manifest's sha256 and
refuses any file the manifest does not describe, so nothing undescribed or half-written is read.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.io import atomic_write_text, sha256_file, write_json

POINTER = "CURRENT"
GENERATIONS = "generations"
MANIFEST = "manifest.json"
_NAME = re.compile(r"^g\d{8}T\d{6}-[0-9a-f]{8}$")


TRASH = ".trash"  # suffix of a generation being removed (a kill mid-removal leaves it marked, not half-valid)


def _new_name() -> str:
    return time.strftime("g%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)


def current_name(folder: Path) -> str | None:
    """The generation named by ``folder/CURRENT`` (None when the folder has none yet)."""
    pointer = Path(folder) / POINTER
    try:
        text = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalkitError(f"cannot read the generation pointer: {exc}", file=pointer) from None
    if not _NAME.match(text):
        raise EvalkitError(
            f"the generation pointer holds {text[:40]!r}",
            file=pointer,
            expected="the name of a folder in generations/ written by evalkit",
        )
    return text


def current_dir(folder: Path) -> Path | None:
    name = current_name(folder)
    return None if name is None else Path(folder) / GENERATIONS / name


def read_manifest(gen: Path) -> dict[str, Any]:
    path = gen / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalkitError(
            "the generation has no manifest", file=path, expected="manifest.json written by evalkit"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalkitError(
            f"manifest is not readable JSON ({type(exc).__name__})",
            file=path,
            expected="manifest.json written by evalkit",
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("checksums"), dict):
        raise EvalkitError(
            "manifest lacks its checksums table",
            file=path,
            column="checksums",
            expected="every output listed with its sha256",
        )
    return doc


def verify_generation(gen: Path) -> dict[str, Any]:
    """Check every file of a generation against its manifest; returns the manifest."""
    doc = read_manifest(gen)
    listed = doc["checksums"]
    for name, digest in sorted(listed.items()):
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise EvalkitError(
                f"manifest lists an invalid output name {name!r}", file=gen / MANIFEST, column="checksums"
            )
        path = gen / name
        if not path.is_file():
            raise EvalkitError("output listed in the manifest is missing", file=path, expected=f"sha256 {digest}")
        actual = sha256_file(path)
        if actual != digest:
            raise EvalkitError(
                f"sha256 is {actual}, the manifest says {digest}",
                file=path,
                expected="the file the manifest describes (rerun the stage)",
            )
    extra = sorted(p.name for p in gen.iterdir() if p.name != MANIFEST and p.name not in listed)
    if extra:
        raise EvalkitError(
            "file not described by the manifest",
            file=gen / extra[0],
            expected="only the outputs listed in manifest.json",
        )
    return doc


def open_current(folder: Path, *, what: str = "run `evalkit ingest` first") -> tuple[Path, dict[str, Any]]:
    """The verified generation in force in ``folder`` and its manifest; one-line error otherwise."""
    folder = Path(folder)
    gen = current_dir(folder)
    if gen is None:
        raise EvalkitError(f"no outputs here; {what}", file=folder / POINTER)
    if not gen.is_dir():
        raise EvalkitError(
            "the generation in force is missing", file=gen, expected=f"a folder written by evalkit; {what}"
        )
    return gen, verify_generation(gen)


def resolve(path: Path) -> Path:
    """A stage output named by its stable path (``data/processed/panel.parquet``) -> the file in force.

    When the parent folder holds generations, the file of the current generation is returned; the
    generation is verified first. Other paths are returned unchanged.
    """
    path = Path(path)
    if (path.parent / POINTER).exists():
        gen, _ = open_current(path.parent)
        return gen / path.name
    return path


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows; MoveFileEx is durable there
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def link_or_copy(src: Path, dst: Path) -> None:
    """Carry an unchanged output into a new generation (hard link when possible; never modified later)."""
    try:
        os.link(src, dst)
    except OSError:
        try:
            shutil.copyfile(src, dst)
        except OSError as exc:  # a full disk or unwritable folder: one line, the generation is discarded
            from evalkit.io import write_failed

            raise write_failed(dst, exc) from None


class Generation:
    """Write a stage's outputs into ``path``; :meth:`publish` makes them the current set at once."""

    def __init__(self, folder: Path, stage: str):
        self.folder = Path(folder)
        self.stage = stage
        self.name = _new_name()
        (self.folder / GENERATIONS).mkdir(parents=True, exist_ok=True)
        self.previous = current_name(self.folder)
        self._tidy()
        self.path = self.folder / GENERATIONS / self.name
        self.path.mkdir()

    def __enter__(self) -> Generation:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is not None:  # an error or interrupt: the new folder was never current
            shutil.rmtree(self.path, ignore_errors=True)

    def publish(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Hash every file, write the manifest, fsync, then switch ``CURRENT`` in one atomic replace."""
        checksums = {}
        for p in sorted(self.path.iterdir()):
            if p.name == MANIFEST:
                continue
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
            checksums[p.name] = sha256_file(p)
        # No generation name or time inside: the same inputs give the same manifest bytes.
        manifest = {**manifest, "checksums": checksums, "stage": self.stage}
        write_json(self.path / MANIFEST, manifest)
        _fsync_dir(self.path)
        atomic_write_text(self.folder / POINTER, self.name + "\n")
        _fsync_dir(self.folder)
        self._collect()
        return manifest

    def _tidy(self) -> None:
        """Before writing: remove what a killed run left behind and was never an output, i.e. folders
        without a manifest (never published) and folders an interrupted clean-up had already condemned
        (``*.trash``). Published generations are left alone: this run may still fail."""
        for p in (self.folder / GENERATIONS).iterdir():
            if not p.is_dir() or p.is_symlink() or p.name == self.previous:
                continue
            if p.name.endswith(TRASH) or not (p / MANIFEST).is_file():
                shutil.rmtree(p, ignore_errors=True)

    def _collect(self) -> None:
        """Remove generations that are neither current nor the one just replaced (crash leftovers too)."""
        keep = {self.name, self.previous}
        for p in (self.folder / GENERATIONS).iterdir():
            if p.name not in keep and p.is_dir() and not p.is_symlink():
                doomed = p if p.name.endswith(TRASH) else p.rename(p.with_name(p.name + TRASH))  # one atomic step
                shutil.rmtree(doomed, ignore_errors=True)


__all__ = [
    "Generation",
    "POINTER",
    "GENERATIONS",
    "MANIFEST",
    "current_dir",
    "current_name",
    "open_current",
    "resolve",
    "verify_generation",
    "link_or_copy",
    "read_manifest",
]
