"""Run a Python command with writable+executable memory refused by the kernel.

    python tests/support/mdwe.py -m sync_server serve …

Sets PR_SET_MDWE (Linux ≥ 6.3: ``PR_MDWE_REFUSE_EXEC_GAIN``, inherited across exec) and
execs the interpreter with the remaining arguments — the restriction systemd's
``MemoryDenyWriteExecute=yes`` enforces (deploy/shift-server.service), so a test can show
the server works under it. Exit code 3 with a message when the kernel lacks it.
"""

from __future__ import annotations

import ctypes
import os
import sys

PR_SET_MDWE, PR_GET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 66, 1
UNSUPPORTED = 3


def supported() -> bool:
    """True when this kernel knows PR_GET_MDWE (asked without changing anything)."""
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(PR_GET_MDWE, 0, 0, 0, 0)) >= 0


def main() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        print(f"PR_SET_MDWE not supported (errno {ctypes.get_errno()})", file=sys.stderr)
        raise SystemExit(UNSUPPORTED)
    os.execv(sys.executable, [sys.executable, *sys.argv[1:]])


if __name__ == "__main__":
    main()
