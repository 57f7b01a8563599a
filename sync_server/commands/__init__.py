"""Sub-commands of `python -m sync_server` (one module each with `register(subparsers)`)."""
