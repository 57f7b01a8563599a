"""The deployment's device policy, as a pull answer carries it (docs/sync-protocol.md §4.1).

Today one value: ``pin_min_digits``, the fewest digits of a new PIN (server setting
SHIFT_PIN_DIGITS). The tablet keeps the last value it got (store setting
``pin_min_digits``), so the policy holds offline; a server without a policy sends none
and the tablet keeps what it had (4 digits when never told).
"""

from __future__ import annotations

from app.core import pins
from app.core.errors import StoreError, SyncProtocolError
from app.core.store import Store
from app.core.store.settings import PIN_POLICY_SETTING


def take(store: Store, policy: object) -> None:
    """Keep the policy of one pull answer. A value out of bounds is a protocol error:
    a policy is never silently ignored."""
    if policy is None:
        return
    if not isinstance(policy, dict):
        raise SyncProtocolError("pull.policy: expected an object")
    if "pin_min_digits" in policy:
        try:
            digits = pins.pin_policy_digits(policy["pin_min_digits"],
                                            "pull.policy.pin_min_digits")
        except StoreError as exc:
            raise SyncProtocolError(str(exc)) from None
        if store.settings.get(PIN_POLICY_SETTING, None) != digits:
            store.settings.set(PIN_POLICY_SETTING, digits)
