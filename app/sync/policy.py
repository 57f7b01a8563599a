"""The deployment's device policy, as a pull answer carries it (docs/sync-protocol.md §4.1).

``pin_min_digits``, the fewest digits of a new PIN (server setting SHIFT_PIN_DIGITS), and
``retention_events_years``, the years after which raw events age out (server setting
SHIFT_RETENTION_EVENTS_YEARS; 0 = kept; the tablet follows it for events the server has:
app/core/learning/retention.py). The tablet keeps the last values it got (store settings
``pin_min_digits``, ``retention_events_years``), so the policy holds offline; a server
without a policy sends none and the tablet keeps what it had (4 digits, and
retention.DEFAULT_YEARS, when never told).
"""

from __future__ import annotations

from app.core import pins
from app.core.errors import StoreError, SyncProtocolError
from app.core.learning import retention
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
    if "retention_events_years" in policy:
        years = policy["retention_events_years"]
        if not retention.valid_years(years):
            raise SyncProtocolError("pull.policy.retention_events_years: expected an integer "
                                    f"0-{retention.MAX_YEARS}, got {years!r}")
        if store.settings.get(retention.YEARS_SETTING, None) != years:
            store.settings.set(retention.YEARS_SETTING, years)
