"""The analysis: the unit every caller (estimate, power, multiverse, the CLI's --panel mode, verify) runs.

Policy lives here: which interval is the default and how it is computed (`intervals`), the pre-trend and
sensitivity checks (`pretrend`, `sensitivity`), and the headline and verdict (`verdict`).
"""
