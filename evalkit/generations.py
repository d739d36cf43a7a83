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
Every file the manifest names elsewhere (its ``outputs`` table, the panel's file list) must be one
of those checksummed files.

The stage folder is the project's own: ``generations/``, ``CURRENT``, a generation and its files are
never symbolic links (nor junctions), and a generation always lies inside ``generations/``. A link
planted there would make a reader read another folder's data and the clean-up delete it.

A reader pins the generation it reads (:func:`pin`, done by :func:`resolve`): it holds a lock on a
file under ``.readers/`` for as long as the process runs (or until :func:`unpin_all`), and a writer
never collects a pinned generation. The lock is the operating system's (``filelock``), so a reader
that dies releases its pin and the next writer collects the generation it left.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.io import atomic_write_text, fsync_file, is_link, sha256_file, write_json

POINTER = "CURRENT"
GENERATIONS = "generations"
MANIFEST = "manifest.json"
_NAME = re.compile(r"^g\d{8}T\d{6}-[0-9a-f]{8}$")


READERS = ".readers"  # beside generations/: one locked file per process reading a generation
TRASH = ".trash"  # suffix of a generation being removed (a kill mid-removal leaves it marked, not half-valid)


def _new_name() -> str:
    return time.strftime("g%Y%m%dT%H%M%S", time.gmtime()) + "-" + secrets.token_hex(4)


def _is_link(path: Path) -> bool:
    return is_link(path)


def _refuse_link(path: Path, what: str) -> None:
    if _is_link(path):
        raise EvalkitError(
            f"{what} is a symbolic link; evalkit reads and writes only its own folders",
            file=path,
            expected="a plain file or folder written by evalkit; remove the link",
        )


def current_name(folder: Path) -> str | None:
    """The generation named by ``folder/CURRENT`` (None when the folder has none yet)."""
    pointer = Path(folder) / POINTER
    _refuse_link(pointer, "the generation pointer")
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
    if name is None:
        return None
    gen = Path(folder) / GENERATIONS / name
    _refuse_link(Path(folder) / GENERATIONS, "generations/")
    _refuse_link(gen, "the generation in force")
    return gen


def read_manifest(gen: Path) -> dict[str, Any]:
    path = gen / MANIFEST
    _refuse_link(path, "the manifest")
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
        _refuse_link(path, "an output")
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
    for column, name in _named_files(doc):
        if name not in listed:
            raise EvalkitError(
                f"manifest names {name!r}, which its checksums do not cover",
                file=gen / MANIFEST,
                column=column,
                expected="every file the manifest names listed under checksums",
            )
    return doc


def _named_files(doc: dict[str, Any]) -> list[tuple[str, Any]]:
    """Every file name a manifest points a reader at, outside its checksums table."""
    named: list[tuple[str, Any]] = []
    outputs = doc.get("outputs")
    if isinstance(outputs, dict):
        for source, spec in outputs.items():
            named.append((f"outputs.{source}.file", spec.get("file") if isinstance(spec, dict) else spec))
    panel = doc.get("panel")
    if isinstance(panel, dict) and isinstance(panel.get("files"), list):
        named += [("panel.files", name) for name in panel["files"]]
    return named


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
    generation is verified first and pinned for this process (see :func:`pin`). Other paths are
    returned unchanged.
    """
    path = Path(path)
    if (path.parent / POINTER).exists() or _is_link(path.parent / POINTER):
        gen, _ = open_current(path.parent)
        pin(gen)
        return gen / path.name
    return path


_PINS: dict[Path, Any] = {}
_AT_EXIT: list[bool] = []


def pin(gen: Path) -> None:
    """Hold a lock naming `gen` under ``.readers/`` so that no writer collects it while this process
    runs. Best effort: a folder where the lock cannot be made (read-only media) is read unpinned."""
    gen = Path(gen)
    if gen in _PINS:
        return
    from filelock import FileLock, Timeout

    readers = gen.parent.parent / READERS
    try:
        readers.mkdir(exist_ok=True)
        if _is_link(readers):
            return
        lock = FileLock(readers / f"{gen.name}.{os.getpid()}.{secrets.token_hex(4)}", blocking=False)
        lock.acquire()
    except (OSError, Timeout):
        return
    if not _AT_EXIT:
        import atexit

        atexit.register(unpin_all)  # the lock goes with the process anyway; this removes its file too
        _AT_EXIT.append(True)
    _PINS[gen] = lock


def unpin_all() -> None:
    """Release this process's pins (a long-lived process between runs; the CLI just exits)."""
    for lock in _PINS.values():
        lock.release()
        Path(lock.lock_file).unlink(missing_ok=True)
    _PINS.clear()


def pinned(folder: Path) -> set[str]:
    """Names of the generations some live process has pinned; stale pins (their reader died) are removed."""
    readers = Path(folder) / READERS
    if not readers.is_dir() or _is_link(readers):
        return set()
    from filelock import FileLock, Timeout

    names = set()
    mine = {Path(lock.lock_file).name for lock in _PINS.values()}
    for p in readers.iterdir():
        gen_name = p.name.split(".", 1)[0]
        if p.name in mine:
            names.add(gen_name)
            continue
        probe = FileLock(p, blocking=False)
        try:
            probe.acquire()
        except Timeout:
            names.add(gen_name)  # its reader is alive
            continue
        except OSError:
            names.add(gen_name)
            continue
        probe.release()
        p.unlink(missing_ok=True)
    return names


def usable_previous(folder: Path, *, required: bool) -> tuple[Path | None, dict[str, Any] | None]:
    """The verified generation in force before a write, for a stage that may start afresh.

    With `required` (``ingest --add`` carries files over) a damaged generation is an error; without
    it, a damaged or foreign generation is set aside with a note, so a fresh full run is never
    blocked by what it is about to replace."""
    import sys

    _refuse_link(Path(folder) / GENERATIONS, "generations/")  # where this run would write: never elsewhere
    _refuse_link(Path(folder) / POINTER, "the generation pointer")
    try:
        gen = current_dir(folder)
        if gen is None or not gen.is_dir():
            return None, None
        return gen, verify_generation(gen)
    except EvalkitError as exc:
        if required:
            raise
        sys.stderr.write(f"note: the outputs in force are damaged and will be replaced ({exc.one_line()})\n")
        return None, None


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
        _refuse_link(self.folder / GENERATIONS, "generations/")
        _refuse_link(self.folder / POINTER, "the generation pointer")
        (self.folder / GENERATIONS).mkdir(parents=True, exist_ok=True)
        try:
            self.previous = current_name(self.folder)
        except EvalkitError:  # an unreadable pointer is replaced by this run (callers needing it check first)
            self.previous = None
        self._tidy()
        self.path = self.folder / GENERATIONS / self.name
        self.path.mkdir()
        self.published = False

    def __enter__(self) -> Generation:
        return self

    def __exit__(self, kind, exc, tb) -> None:
        if kind is not None and not self.published:  # an error or interrupt: the new folder was never current
            shutil.rmtree(self.path, ignore_errors=True)

    def publish(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Hash every file, write the manifest, fsync, then switch ``CURRENT`` in one atomic replace."""
        checksums = {}
        for p in sorted(self.path.iterdir()):
            if p.name == MANIFEST:
                continue
            fsync_file(p)
            checksums[p.name] = sha256_file(p)
        # No generation name or time inside: the same inputs give the same manifest bytes.
        manifest = {**manifest, "checksums": checksums, "stage": self.stage}
        write_json(self.path / MANIFEST, manifest)
        _fsync_dir(self.path)
        atomic_write_text(self.folder / POINTER, self.name + "\n")
        self.published = True  # from here on the new folder is the one in force: never removed
        _fsync_dir(self.folder)
        self._collect()
        return manifest

    def _tidy(self) -> None:
        """Before writing: remove what a killed run left behind and was never an output, i.e. folders
        without a manifest (never published) and folders an interrupted clean-up had already condemned
        (``*.trash``). Published generations are left alone: this run may still fail."""
        for p in (self.folder / GENERATIONS).iterdir():
            if _is_link(p):
                p.unlink()  # a link is never a generation; removing it never touches what it names
                continue
            if not p.is_dir() or p.name == self.previous:
                continue
            if p.name.endswith(TRASH) or not (p / MANIFEST).is_file():
                shutil.rmtree(p, ignore_errors=True)

    def _collect(self) -> None:
        """Remove generations that are neither current nor the one just replaced (crash leftovers too)."""
        keep = {self.name, self.previous} | pinned(self.folder)
        for p in (self.folder / GENERATIONS).iterdir():
            if p.name not in keep and p.is_dir() and not _is_link(p):
                try:
                    doomed = p if p.name.endswith(TRASH) else p.rename(p.with_name(p.name + TRASH))  # one atomic step
                except OSError:  # Windows: a file inside is open in another program; a later run collects it
                    continue
                shutil.rmtree(doomed, ignore_errors=True)


# --- a plain output folder (reports/<name>/) published as one set -----------------------------------

JOURNAL = ".publishing"  # names the staged files of a set being moved in; present only mid-publish
_STAGING = re.compile(r"^\.staging-[0-9a-f]{16}$")


@contextmanager
def staged(out_dir: Path, *, remove: Callable[[set[str]], list[str]] | None = None) -> Iterator[Path]:
    """Write a run's outputs into the yielded folder; when the block ends normally they replace
    `out_dir`'s files as one set.

    A user-facing folder such as ``reports/demo/`` cannot be a generation (its files are opened by
    name), so the set is made durable by a journal instead: the staged files are fsynced, then
    ``.publishing`` (naming them) is written atomically, then each is renamed in. A failure or kill
    before the journal leaves the previous run whole; a kill after it is completed (rolled forward)
    by :func:`recover`, which every writer and reader of the folder calls first. `remove(new_names)`
    lists the files of earlier runs this set retires (stale figures), removed in the same step."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _refuse_link(out_dir / JOURNAL, "the publishing journal")
    recover(out_dir)
    stage = out_dir / f".staging-{secrets.token_hex(8)}"
    stage.mkdir()
    try:
        yield stage
        names = sorted(p.name for p in stage.iterdir())
        for name in names:
            fsync_file(stage / name)
        _fsync_dir(stage)
        retired = sorted(set(remove(set(names)) if remove else []) - set(names))
        atomic_write_text(out_dir / JOURNAL, json.dumps({"stage": stage.name, "files": names, "remove": retired}))
        _fsync_dir(out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    recover(out_dir)


def _plain_name(name: Any) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name


def recover(out_dir: Path) -> None:
    """Finish a set whose journal was written (roll forward), and remove staging folders never committed."""
    out_dir = Path(out_dir)
    journal = out_dir / JOURNAL
    if journal.is_file() and not _is_link(journal):
        try:
            doc = json.loads(journal.read_text(encoding="utf-8"))
            stage, files, retired = doc["stage"], doc["files"], doc.get("remove", [])
            valid = bool(_STAGING.match(stage)) and all(_plain_name(n) for n in [*files, *retired])
        except (OSError, ValueError, KeyError, TypeError):
            valid = False
        if not valid:
            raise EvalkitError(
                "the publishing journal is not one evalkit wrote",
                file=journal,
                expected="remove it and rerun the command that writes this folder",
            )
        for name in files:
            src = out_dir / stage / name
            if src.is_file() and not _is_link(src):
                dst = out_dir / name
                if dst.exists() and not dst.is_file():
                    raise EvalkitError("is not a regular file; evalkit will not replace it", file=dst)
                try:
                    os.replace(src, dst)  # idempotent: a rerun after a kill finds the moved ones gone
                except OSError as exc:  # Windows refuses to replace a file another program holds open
                    raise EvalkitError(
                        f"cannot replace the file ({exc.strerror or exc}); the new set is kept and the next"
                        " evalkit command on this folder finishes it",
                        file=dst,
                        expected="a file no other program holds open (close it, e.g. in a spreadsheet, and rerun)",
                    ) from None
        for name in retired:
            (out_dir / name).unlink(missing_ok=True)
        _fsync_dir(out_dir)
        journal.unlink(missing_ok=True)
    for p in out_dir.glob(".staging-*"):
        if _STAGING.match(p.name) and p.is_dir() and not _is_link(p):
            shutil.rmtree(p, ignore_errors=True)


__all__ = [
    "staged",
    "recover",
    "JOURNAL",
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
    "pin",
    "unpin_all",
    "pinned",
    "usable_previous",
]
