"""A simulated next CLA release, built at test time from the real 2025 file (never stored).

The 2025 rows are copied as 2026, and Sunderland's 2025 count of children looked after is revised from
510 to 520 (its published rate from 90 to 92, so that the rate still matches count and population).
"""

from __future__ import annotations

from pathlib import Path

DASHBOARD = "cla/ees_cla_number_and_rate_per_10k_children_latest_dfe_dashboard.csv"
NEXT_NAME = "ees_cla_number_and_rate_per_10k_children_2022_2026.csv"
SUNDERLAND = "394"


def next_cla_release(reference: Path, folder: Path) -> Path:
    """Write the simulated 2026 release into `folder`; returns its path."""
    lines = (reference / DASHBOARD).read_bytes().split(b"\n")
    header, body = lines[0], [line for line in lines[1:] if line.strip()]
    revised = []
    for line in body:
        cells = line.split(b",")
        if (
            cells[0] == b"2025"
            and cells[7] == SUNDERLAND.encode()
            and cells[10].startswith(b"Children looked after on")
        ):
            assert cells[12:14] == [b"510", b"90"], cells
            cells[12], cells[13] = b"520", b"92"
        revised.append(b",".join(cells))
    new_year = [b"2026" + line[4:] for line in revised if line.startswith(b"2025,")]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NEXT_NAME
    path.write_bytes(b"\n".join([header, *new_year, *revised]) + b"\n")
    return path
