"""`python -m sync_server` — the server's command line (sync_server/cli.py)."""

import sys

from sync_server.cli import main

sys.exit(main())
