"""Shared by the UI unit tests and the benchmark: a real device folder with the ui-demo
pack installed, a signed-in session, and a walker over Flet control trees."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import flet as ft

from app.core.application import Device, Session
from app.ui import routes, screens
from app.ui.ctx import ViewContext
from app.ui.main import open_device
from tests.e2e.ui_harness import install_fixture_packs

PIN = "2580"


class ManualClock:
    """A clock the test moves by hand (idle lock, PIN delays, reading time)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_device(tmp: Path, clock: ManualClock | None = None, packs: bool = True) -> Device:
    """A tablet opened like the app opens it (app/ui/main.py open_device: with the sync
    client), with a hand-driven clock."""
    data = tmp / "device"
    if packs:
        install_fixture_packs(data, tmp)
    return open_device(data, clock=clock or ManualClock())


def signed_in(device: Device, name: str = "Ona Petraitytė", language: str = "en",
              role: str = "prison_officer", staff: str = "LT-1") -> Session:
    pid = device.create_profile(name, staff, role, language, PIN, PIN)
    session = Session(device)
    assert session.sign_in(pid, PIN), session.view.pin_error
    return session


@dataclasses.dataclass
class Recorder:
    """Navigation hooks of a ViewContext that record instead of rendering."""

    routes: list[str] = dataclasses.field(default_factory=list)
    refreshes: int = 0

    def go(self, path: str) -> None:
        self.routes.append(path)

    def refresh(self) -> None:
        self.refreshes += 1


def context(session: Session) -> tuple[ViewContext, Recorder]:
    rec = Recorder()
    return ViewContext(session, go=rec.go, refresh=rec.refresh), rec


def build(session: Session, path: str) -> tuple[ft.View, ViewContext, Recorder]:
    ctx, rec = context(session)
    route = routes.resolve(path, session.signed_in)
    return screens.build(ctx, route), ctx, rec


def walk(node: Any) -> Iterator[Any]:
    """Every control below ``node`` (controls, content, app bar, actions, destinations…)."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ft.BaseControl):
            yield item
        if isinstance(item, list | tuple):
            stack.extend(reversed(item))
            continue
        if not dataclasses.is_dataclass(item):
            continue
        for f in dataclasses.fields(item):
            if f.name.startswith("_") or f.name in ("parent", "page"):
                continue
            value = getattr(item, f.name, None)
            if isinstance(value, ft.BaseControl) or (
                    isinstance(value, list | tuple) and value
                    and any(isinstance(v, ft.BaseControl) for v in value)):
                stack.append(value)


def by_key(root: Any, key: str) -> Any:
    for c in walk(root):
        if getattr(c, "key", None) == key:
            return c
    raise AssertionError(f"no control with key {key!r}")


def has_key(root: Any, key: str) -> bool:
    return any(getattr(c, "key", None) == key for c in walk(root))


def texts(root: Any) -> list[str]:
    out = []
    for c in walk(root):
        for attr in ("value", "label", "text", "tooltip", "semantics_label"):
            v = getattr(c, attr, None)
            if isinstance(v, str) and v:
                out.append(v)
        content = getattr(c, "content", None)
        if isinstance(content, str) and content:
            out.append(content)
    return out


def all_text(root: Any) -> str:
    return "\n".join(texts(root))


def click(control: Any) -> None:
    """Call a control's tap handler the way Flet would."""
    for name in ("on_click", "on_select", "on_change"):
        handler = getattr(control, name, None)
        if handler is not None:
            handler(SimpleNamespace(control=control, data=None))
            return
    raise AssertionError(f"{control!r} has no tap handler")


def type_text(field: Any, value: str) -> None:
    field.value = value
    if field.on_change is not None:
        field.on_change(SimpleNamespace(control=field, data=value))
