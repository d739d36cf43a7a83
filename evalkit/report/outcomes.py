"""Outcome columns in words for the report: the catalogue itself is `evalkit.columns` (one table for
verdicts, report, estimate and multiverse); these names are kept for the report's modules."""

from __future__ import annotations

from evalkit.columns import better, domain, label, unit

__all__ = ["better", "domain", "label", "unit"]
