"""`python -m app sync --data-dir DIR` and `python -m app enrol CODE --server URL --data-dir DIR`.

`sync` runs one sync (pull, push, pack updates) and prints what moved, one fact a line;
exit 0 when events and profiles were exchanged and no pack update failed, exit 1 with
one `error:` line otherwise (nothing acknowledged is lost: the outbox stays as it was).
`enrol` trades the admin's one-time code for the device token (never printed).
Both open the data folder encrypted, with the app's key file (SHIFT_KEY_FILE or
``<data folder>.key``; docs/security.md "Encryption at rest").
`sync --rejected` lists the events the server rejected, with the reason (for an admin);
`sync --conflicts` lists pulled events whose id is stored here with other content;
`sync --quarantined` lists pulled events this tablet refused (malformed, too deep or too
large: kept as text, never stored as events).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.core.errors import ShiftError, SyncError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sync", help="run one sync with the server and print what moved")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--server", help="server URL (stored as server_url)")
    p.add_argument("--code", help="enrolment code: enrol first (one-time)")
    p.add_argument("--ca-bundle", help="CA file for a facility server with its own certificate")
    p.add_argument("--trust", action="append", default=[],
                   help="add a trusted pack public key file (repeatable)")
    p.add_argument("--no-packs", action="store_true", help="skip pack updates")
    p.add_argument("--rejected", action="store_true",
                   help="only list the events the server rejected (kept on the device)")
    p.add_argument("--conflicts", action="store_true",
                   help="only list pulled events whose id is stored here with other content")
    p.add_argument("--quarantined", action="store_true",
                   help="only list pulled events this tablet refused as malformed")
    p.set_defaults(func=run_sync)

    e = sub.add_parser("enrol", help="enrol this device folder with a one-time code")
    e.add_argument("code")
    e.add_argument("--server", required=True)
    e.add_argument("--data-dir", required=True)
    e.add_argument("--name", help="name of the tablet shown to the admin")
    e.add_argument("--ca-bundle")
    e.set_defaults(func=run_enrol)


def _configure(store: object, args: argparse.Namespace) -> None:
    """Apply --ca-bundle / --trust / --server, each checked *before* anything is stored,
    so a typo never leaves a broken setting behind for the next (background) sync."""
    settings = store.settings  # type: ignore[attr-defined]
    changes: dict[str, object] = {}
    if getattr(args, "ca_bundle", None):
        from app.sync.transport import tls_context  # raises SyncTLSError if not a CA file
        path = str(Path(args.ca_bundle).resolve())
        tls_context(path)
        changes["ca_bundle"] = path
    keys = []
    for keyfile in getattr(args, "trust", []) or []:
        from app.core.packs import load_public_key  # checks it is a key
        try:
            text = Path(keyfile).read_text(encoding="ascii")
        except OSError as exc:
            raise SyncError(f"--trust {keyfile}: cannot read it ({exc.strerror})") from None
        except UnicodeDecodeError:
            raise SyncError(f"--trust {keyfile}: not a public key file (binary data)") from None
        load_public_key(text.encode())
        keys.append(text)
    if keys:
        changes["trusted_keys"] = [*settings.get("trusted_keys"), *keys]
    if getattr(args, "server", None):
        changes["server_url"] = args.server
    if changes:
        settings.update(changes)   # all validated again by the store, one write


def run_enrol(args: argparse.Namespace) -> int:
    from app.core.store import Store
    from app.core.store.keys import key_file_for
    from app.sync import SyncClient
    try:
        with Store.open(args.data_dir, keys=key_file_for(args.data_dir)) as store:
            _configure(store, args)
            info = SyncClient(store).enrol(args.code, name=args.name)
    except (ShiftError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"enrolled device {info['device_id']} at {info['facility_name']} "
          f"({info['facility_id']})")
    return 0


def run_sync(args: argparse.Namespace) -> int:
    from app.core.packs import PackLibrary
    from app.core.store import Store
    from app.core.store.keys import key_file_for
    from app.sync import SyncClient
    try:
        with Store.open(args.data_dir, keys=key_file_for(args.data_dir)) as store:
            _configure(store, args)
            if args.rejected:
                return _print_rejected(store)
            if args.conflicts:
                return _print_conflicts(store)
            if args.quarantined:
                return _print_quarantined(store)
            client = SyncClient(store, PackLibrary(Path(args.data_dir)))
            if args.code:
                client.enrol(args.code)
            report = client.sync(packs=not args.no_packs)
    except (ShiftError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    if not report.ok:
        print("error: a pack update failed (see above); the installed version is unchanged",
              file=sys.stderr)
        return 1
    return 0


def _print_rejected(store: object) -> int:
    rows = store.rejected()  # type: ignore[attr-defined]
    for row in rows:
        event = row["event"]
        print(f"{row['at']}  {event['id']}  {event['type']}  learner {event['learner']}  "
              f"{row['reason']}")
    print(f"{len(rows)} rejected events kept on this device")
    return 0


def _print_conflicts(store: object) -> int:
    rows = store.conflicts()  # type: ignore[attr-defined]
    for row in rows:
        kept, got = row["kept"], row["received"]
        fields = sorted(k for k in set(kept) | set(got)
                        if k != "received_at" and kept.get(k) != got.get(k))
        print(f"{row['at']}  {row['id']}  learner {row['learner']}  "
              f"differs in: {', '.join(fields) or '?'}  (kept the first copy)")
    print(f"{len(rows)} conflicting events recorded on this device")
    return 0


def _print_quarantined(store: object) -> int:
    rows = store.quarantined()  # type: ignore[attr-defined]
    for row in rows:
        # the text came from a server: shown escaped, never as raw control characters
        shown = row["text"][:120].encode("unicode_escape").decode("ascii")
        print(f"{row['at']}  {row['id'] or '(no id)'}  {row['reason']}  {shown}")
    print(f"{len(rows)} pulled events quarantined on this device")
    return 0
