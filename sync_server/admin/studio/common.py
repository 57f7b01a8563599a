"""What the studio's pages share: the form as plain values, the checks as rows, the
page frame."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from starlette.datastructures import FormData, UploadFile

from app.core.errors import ShiftError
from sync_server.admin.console import render
from sync_server.authoring.checks import RULES, Report
from sync_server.db.repository import Admin
from sync_server.services import roles


def plain_form(form: FormData) -> dict[str, str]:
    """The text fields of a posted form (the last value of a repeated name; files left
    out): what the editors read."""
    return {k: str(v) for k, v in form.multi_items() if not isinstance(v, UploadFile)}


def texts(form: FormData, name: str) -> list[str]:
    return [str(v) for v in form.getlist(name) if not isinstance(v, UploadFile)]


def page(request: Request, template: str, *, admin: Admin, title: str,
         report: Report | None = None, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A studio page; ``report`` is the draft's checks (errors block a build)."""
    return render(request, template, admin=admin, nav="studio", title=title,
                  status_code=status_code, report=report, rules=RULES,
                  can_author=roles.has_role(admin, roles.AUTHOR),
                  can_publish=roles.has_role(admin, roles.PUBLISHER), **context)


def failure(exc: ShiftError) -> str:
    return str(exc)[:2000]
