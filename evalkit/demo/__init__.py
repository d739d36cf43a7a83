"""The embedded demo: synthetic councils in the official file formats, with a known true effect."""
