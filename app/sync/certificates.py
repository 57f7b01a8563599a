"""Certificate trust at sync: learn the server's certificate key, fetch revocation lists.

After the pull, the sync client calls ``refresh``:

1. ``GET /issuer`` — the issuer profile; its ``id`` is the did:key that signs this
   server's certificates. It is added to the setting ``certificate_keys`` (kept: a key
   the server used before still verifies the certificates it signed). Only these keys
   make a certificate "verified" on the tablet (app.core.credential_status.check_received);
   pack keys never do.
2. For every revocation list a certificate on this tablet names (``credentialStatus.
   statusListCredential``, collected by ``note_lists`` as events are merged), ``GET
   /status/{n}`` on this server; the list is kept (setting
   ``certificate_status_lists``) only if it is signed by a certificate key and its id is
   exactly the URL the certificate names.

Nothing here may fail a sync: events were exchanged already. Problems become notes in
the report; the tablet then shows what it knew before.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from app.core.application.sync_report import SyncReport
from app.core.credential_status import check_status_list, did_of, entry_of
from app.core.errors import CertificateError, ShiftError, SyncNetworkError
from app.sync.transport import Transport

KEYS_SETTING = "certificate_keys"
LISTS_SETTING = "certificate_status_lists"
MAX_KEYS = 16
MAX_LISTS = 8          # a list takes 65 536 certificates before the next starts
_LIST_PATH = re.compile(r"/status/([1-9][0-9]{0,6})$")


def note_lists(store: Any, events: Iterable[dict[str, Any]]) -> None:
    """Remember the revocation lists named by merged ``certificate.received`` events
    (as keys of ``certificate_status_lists`` with no list yet)."""
    urls = set()
    for event in events:
        if event.get("type") != "certificate.received":
            continue
        try:
            entry = entry_of((event.get("data") or {}).get("credential"))
        except CertificateError:
            continue
        if entry is not None:
            urls.add(entry[0])
    if not urls:
        return
    lists = _lists(store)
    new = {u: None for u in urls if u not in lists}
    if new and len(lists) + len(new) <= MAX_LISTS:
        with contextlib.suppress(ShiftError):   # a list not noted is simply not checked
            store.settings.set(LISTS_SETTING, {**lists, **new})


def _lists(store: Any) -> dict[str, Any]:
    lists = store.settings.get(LISTS_SETTING, {})
    return dict(lists) if isinstance(lists, dict) else {}


def refresh(t: Transport, store: Any, report: SyncReport) -> None:
    """Steps 1 and 2 above; never raises (a network error is a note)."""
    try:
        keys = _learn_issuer_key(t, store)
    except SyncNetworkError as exc:
        report.notes.append(f"certificates: issuer key not fetched ({exc})")
        return
    except ShiftError as exc:
        report.notes.append(f"certificates: issuer profile refused ({exc})")
        keys = _keys(store)
    if not keys:
        return
    lists = _lists(store)
    changed = False
    for url in sorted(lists):
        path = _LIST_PATH.search(urlsplit(url).path)
        if path is None:
            report.notes.append(f"certificates: status list {url!r} is not a /status/n URL")
            continue
        try:
            fetched = t.call("GET", f"/status/{path.group(1)}")
            issuer = fetched.get("issuer") if isinstance(fetched, dict) else None
            if issuer not in keys:
                raise CertificateError("status list: not issued by a certificate key")
            check_status_list(fetched, list_url=url, issuer_id=issuer, trusted_keys=keys)
        except SyncNetworkError as exc:
            report.notes.append(f"certificates: status list not fetched ({exc})")
            return
        except ShiftError as exc:
            report.notes.append(f"certificates: status list {url} refused ({exc})")
            continue
        if lists[url] != fetched:
            lists[url] = fetched
            changed = True
    if changed:
        try:
            store.settings.set(LISTS_SETTING, lists)
        except ShiftError as exc:     # e.g. larger than a setting may be
            report.notes.append(f"certificates: status lists not saved ({exc})")


def _keys(store: Any) -> list[str]:
    keys = store.settings.get(KEYS_SETTING, [])
    return [k for k in keys if isinstance(k, str)] if isinstance(keys, list) else []


def _learn_issuer_key(t: Transport, store: Any) -> list[str]:
    did = did_of(t.call("GET", "/issuer"))
    keys = _keys(store)
    if did not in keys:
        keys = [*keys, did][-MAX_KEYS:]
        store.settings.set(KEYS_SETTING, keys)
    return keys
