"""Shared plumbing of the HTML console: templates, session cookie, CSRF, flashes.

Session: the console logs in with the admin login of services/admin_auth.py and keeps the
admin bearer token in the ``shift_admin`` cookie (HttpOnly, SameSite=Strict), which the
JSON API's ``require_admin`` also accepts. A page names what it needs in its signature:
``ConsoleAdminDep`` (the logged-in admin, else a redirect to the login page) and, for a
POST, ``CsrfForm`` (the parsed form after its CSRF check). CSRF: every POST form carries
``csrf`` = SHA-256("csrf:" + session token) — unguessable without the cookie, and checked
on every POST; the login form uses a double-submit cookie instead (no session yet).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from app.core.roles import ROLE_LABELS_EN, ROLES
from sync_server.admin.i18n import (
    install_gettext,
    languages,
    request_language,
    tr,
    translations,
)
from sync_server.api.deps import ADMIN_COOKIE, get_state
from sync_server.db.repository import Admin
from sync_server.services import admin_auth, roles
from sync_server.services.issuing import DEFAULT_ORG_NAME

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
install_gettext(templates.env)
LOGIN_CSRF_COOKIE = "shift_login_csrf"
FLASH_COOKIE = "shift_flash"
#: Everything from this server only: a page can never load anything from the internet.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class StudioOnly(Exception):
    """Raised by ``console_admin`` for an account with studio roles only; the app sends
    it to the studio (docs/authoring.md "Studio" → "Roles")."""


class LoginRequired(Exception):
    """Raised by ``console_admin``; the app turns it into a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def csrf_for(token: str) -> str:
    return hashlib.sha256(("csrf:" + token).encode()).hexdigest()


def session_token(request: Request) -> str | None:
    return request.cookies.get(ADMIN_COOKIE)


def console_member(request: Request) -> Admin:
    """The logged-in account of a console page, whatever its roles (the studio's pages:
    their services check the role of each action), else a redirect to /admin/login."""
    token = session_token(request)
    admin = admin_auth.admin_for_token(repo=get_state(request).repo, token=token) \
        if token else None
    if admin is None:
        raise LoginRequired(request.url.path)
    request.state.admin = admin.name
    return admin


def console_admin(request: Request) -> Admin:
    """A full administrator (every page outside the studio); an account with studio
    roles only is sent to the studio."""
    admin = console_member(request)
    if not roles.is_full_admin(admin):
        raise StudioOnly()
    return admin


def console_publisher(request: Request) -> Admin:
    """A full administrator or a publisher (the packs page: publish a built version)."""
    admin = console_member(request)
    if not roles.has_role(admin, roles.PUBLISHER):
        raise StudioOnly()
    return admin


async def check_csrf(request: Request) -> FormData:
    """Parse the form of a POST and check its CSRF token (403 if wrong)."""
    form = await request.form()
    token = session_token(request) or ""
    sent = str(form.get("csrf") or "")
    if not token or not hmac.compare_digest(sent, csrf_for(token)):
        raise HTTPException(403, "CSRF token missing or wrong: reload the page and try again")
    return form


ConsoleAdminDep = Annotated[Admin, Depends(console_admin)]
StudioMemberDep = Annotated[Admin, Depends(console_member)]
PublisherDep = Annotated[Admin, Depends(console_publisher)]
CsrfForm = Annotated[FormData, Depends(check_csrf)]


def form_text(form: FormData, name: str) -> str:
    """A text field of a form, stripped ("" when missing)."""
    return str(form.get(name) or "").strip()


def render(request: Request, template: str, *, admin: Admin | None = None,
           status_code: int = 200, csrf: str | None = None, **context: Any) -> HTMLResponse:
    """A console page; ``csrf`` overrides the session-derived token (login form)."""
    token = session_token(request)
    flashes = []
    raw = request.cookies.get(FLASH_COOKIE)
    if raw:
        try:
            flashes = [(str(k), str(t)) for k, t in json.loads(raw)][:5]
        except (ValueError, TypeError):
            flashes = []
    if csrf is None:
        csrf = csrf_for(token) if token else ""
    lang = request_language(request)
    words = translations(lang)
    if isinstance(context.get("title"), str):   # a marked title (N_) or a person's name
        context["title"] = words.gettext(context["title"])
    response = templates.TemplateResponse(request, template, {
        "admin": admin, "csrf": csrf, "flashes": flashes, "lang": lang,
        "console_languages": languages(), "here": _here(request, context.get("nav")),
        "admin_roles": sorted(roles.roles_of(admin)) if admin else [],
        "full_admin": bool(admin and roles.is_full_admin(admin)),
        "setup_warnings": setup_warnings(request) if admin else [],
        "roles": ROLES, "role_labels": {r: words.gettext(t) for r, t in ROLE_LABELS_EN.items()},
        "pct": pct, **context},
        status_code=status_code)
    if raw:
        response.delete_cookie(FLASH_COOKIE, path="/admin")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = lang
    response.headers.update(SECURITY_HEADERS)
    return response


def _here(request: Request, nav: object) -> str:
    """Where the language switcher comes back to: this page when it was a GET, else the
    section's page (a POST's result cannot be fetched again)."""
    if request.method == "GET":
        query = request.url.query
        return request.url.path + (f"?{query}" if query else "")
    return f"/admin/{nav}" if isinstance(nav, str) and nav and nav != "dashboard" else "/admin/"


def setup_warnings(request: Request) -> list[str]:
    """What the console warns about on every page until it is set (docs/admin-guide.md)."""
    state = get_state(request)
    t = tr(request)
    warnings = []
    if not state.settings.public_base_url or state.settings.public_base_url_defaulted:
        warnings.append(t.gettext(
            "SHIFT_PUBLIC_BASE_URL is not set: certificate QR codes, verify links and "
            "enrolment codes point to %(url)s, which people and tablets elsewhere cannot "
            "reach. Set it to the address people use and restart the server (development "
            "mode only).", url=state.settings.base_url))
    if state.issuer.config.org_name == DEFAULT_ORG_NAME:
        warnings.append(t.gettext(
            "SHIFT_ORG_NAME is not set: certificates name \"%(name)s\" as their issuer "
            "instead of your organisation (set SHIFT_ORG_NAME and SHIFT_ORG_URL).",
            name=DEFAULT_ORG_NAME))
    return warnings


def redirect(path: str, *, flash: tuple[str, str] | None = None) -> RedirectResponse:
    response = RedirectResponse(path, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, json.dumps([list(flash)]), path="/admin",
                            httponly=True, samesite="strict", max_age=60)
    return response


def set_session(response: Response, request: Request, token: str) -> None:
    ttl = get_state(request).settings.admin_session_ttl_s
    response.set_cookie(ADMIN_COOKIE, token, max_age=ttl, path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def login_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse("/admin/login?next=" + quote(next_path, safe="/"), status_code=303)


def safe_next(value: str | None) -> str:
    """Only local console paths (no open redirect)."""
    if value and value.startswith("/admin") and not value.startswith("//") and "\\" not in value:
        return value
    return "/admin/"
