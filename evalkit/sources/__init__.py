"""One module per publication; each knows its official layouts and returns a tidy, typed frame.

Every source module exposes:
  NAME: str               -- the output name, data/processed/<NAME>.parquet
  KIND: "measures" | "judgements" | "lookup"
  PARSER_VERSION: str
  detect(path) -> bool    -- cheap check (file name and header) that this module reads the file
  parse(path) -> DataFrame in the schema of KIND (see common.py); raises EvalkitError on bad input

Writing tidy rows back in the official layouts (so the demo runs these same parsers) is
evalkit.demo.writers; reading .ods is sources/ods.py; the ADM registry reader is sources/registry.py.
"""
