"""Read a reference anchor's output file (<anchor>/reference.json, written by <anchor>/make.py).

The tests compare evalkit with these numbers instead of literals typed from printed output; the
provenance block names the peer package, its version and the command that made them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Reference:
    anchor: str
    payload: dict

    @property
    def provenance(self) -> dict:
        return self.payload["provenance"]

    def spec(self, spec: str) -> dict:
        return self.payload["specs"][spec]

    def rows(self, spec: str) -> dict[str, dict]:
        """The spec's rows keyed by evalkit's row name."""
        return {row["name"]: row for row in self.spec(spec)["rows"]}

    def row(self, spec: str, name: str) -> dict:
        return self.rows(spec)[name]


def load(anchor: str) -> Reference:
    payload = json.loads((HERE / anchor / "reference.json").read_text())
    if not payload.get("provenance", {}).get("packages"):
        raise ValueError(f"{anchor}/reference.json: no provenance.packages (rerun {anchor}/make.py)")
    return Reference(anchor, payload)
