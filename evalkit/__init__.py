"""evalkit: independent evaluation of alternative delivery models of children's social care."""

__version__ = "0.1.0"
