"""Command-line sub-commands of `python -m app` (one module each, see app/__main__.py)."""
