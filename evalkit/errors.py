"""The one exception type for bad input, so the CLI can print one line and exit 1."""

from __future__ import annotations

from pathlib import Path


class EvalkitError(Exception):
    """Bad input data: names the file, row and column, and what was expected.

    `row` is 1-based as a spreadsheet or text editor shows it (the header is row 1 of a CSV).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.expected = expected
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        where = ", ".join(parts)
        text = f"{where}: {self.message}" if where else self.message
        if self.expected:
            text += f" (expected {self.expected})"
        return " ".join(text.split())


class UsageError(Exception):
    """Bad options or arguments from the user; the CLI exits 2."""
