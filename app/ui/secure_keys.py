"""The store's data key in the platform's secure storage (issue 15 item 5): Android
Keystore (flet-secure-storage wraps it with an AES key kept in the Keystore) and the iOS
Keychain (this device only, after first unlock), through the `flet-secure-storage`
service.

Used only where the app runs as a native app on a phone or tablet (``flet build apk|ipa``,
app/ui/native.py): in web mode the Flet page is a *browser* of a server-side data folder
shared by every session, so the browser's storage is the wrong place; a desktop or
browser (Pyodide) build keeps the key in a key file (app/core/store/keys.py).
docs/security.md "Encryption at rest" says what each protects.
"""

from __future__ import annotations

import logging
from typing import Any

import flet as ft
from flet_secure_storage import (
    AndroidOptions,
    IOSOptions,
    KeychainAccessibility,
    SecureStorage,
)

from app.core.errors import StoreError
from app.core.store.keys import FixedKey, KeyProvider, decode_key, encode_key, new_key

log = logging.getLogger("shift.ui")

#: the secure-storage entry holding the data key (one data folder per app install)
KEY_NAME = "shift-store-data-key"
MOBILE = frozenset({ft.PagePlatform.ANDROID, ft.PagePlatform.ANDROID_TV,
                    ft.PagePlatform.IOS})
WHERE = "the platform's secure storage (Android Keystore / iOS Keychain)"


def uses_secure_storage(page: Any) -> bool:
    """True for a native app on Android or iOS (not a browser page, not a desktop)."""
    return not getattr(page, "web", False) and getattr(page, "platform", None) in MOBILE


async def secure_storage_keys(page: Any) -> KeyProvider | None:
    """The data key from secure storage, made and saved there on first use; None where
    the platform has none (the caller then uses a key file). StoreError when secure
    storage holds something that is not a data key."""
    if not uses_secure_storage(page):
        return None
    storage = SecureStorage(
        android_options=AndroidOptions(reset_on_error=False),
        ios_options=IOSOptions(
            accessibility=KeychainAccessibility.FIRST_UNLOCK_THIS_DEVICE,
            synchronizable=False))
    found = await storage.get(KEY_NAME)
    if found is not None:
        return FixedKey(decode_key(str(found).encode(), WHERE), where=WHERE)
    key = new_key()
    await storage.set(KEY_NAME, encode_key(key).decode())
    if await storage.get(KEY_NAME) != encode_key(key).decode():
        raise StoreError(f"{WHERE}: the new data key could not be saved")
    log.info("made a new data key in %s", WHERE)
    return FixedKey(key, created=True, where=WHERE)
