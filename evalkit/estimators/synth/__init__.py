"""Synthetic control (per unit and staggered) and synthetic difference-in-differences."""
