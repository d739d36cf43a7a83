"""One module per publication; each knows its official layouts and returns a tidy, typed frame.

Every source module exposes:
  NAME: str               -- the output name, data/processed/<NAME>.parquet
  KIND: "measures" | "judgements" | "lookup"
  PARSER_VERSION: str
  detect(path) -> bool    -- cheap check (file name and header) that this module reads the file
  parse(path) -> DataFrame in the schema of KIND (see common.py); raises EvalkitError on bad input
  write_demo(frame, folder) -> list[Path]   -- (where the demo uses it) writes tidy rows back in
                                               the official layout, so the demo runs the same parsers
"""
