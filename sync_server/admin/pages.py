"""Console pages: login / logout (docs/admin-guide.md). The dashboard is pages_progress.py;
the other pages are in pages_packs.py, pages_people.py and pages_exports.py; every action is a service call
(sync_server/services/)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.core.i18n import N_
from sync_server.admin import i18n
from sync_server.admin.console import (
    LOGIN_CSRF_COOKIE,
    CsrfForm,
    login_redirect,
    new_login_csrf,
    redirect,
    render,
    safe_next,
    session_token,
    set_session,
)
from sync_server.api.deps import ADMIN_COOKIE, StateDep
from sync_server.errors import TooManyAttemptsError
from sync_server.logs import log
from sync_server.services import admin_auth

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)


# ----------------------------------------------------------------------------- login

@router.get("")
def admin_root() -> Response:
    return login_redirect("/admin/")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/admin/") -> HTMLResponse:
    token = new_login_csrf()
    # the login form's csrf field is a double-submit value (there is no session yet)
    response = render(request, "login.html", title=N_("Log in"), next=safe_next(next), csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path="/admin/login", httponly=True,
                        samesite="strict", max_age=3600)
    return response


@router.post("/login")
async def login(request: Request, state: StateDep) -> Response:
    form = await request.form()
    sent, cookie = str(form.get("csrf") or ""), request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    name, password = str(form.get("name") or "")[:200], str(form.get("password") or "")[:1000]
    if not cookie or sent != cookie:
        raise HTTPException(403, "login form expired: reload the page and try again")
    address = request.client.host if request.client else "?"
    try:  # the throttle (failures counted in the database) is inside the login service
        session = await run_in_threadpool(lambda: admin_auth.login(
            repo=state.repo, name=name, password=password, address=address,
            session_ttl_s=state.settings.admin_session_ttl_s))
    except TooManyAttemptsError:
        log(logger, logging.WARNING, "console login throttled", admin=name)
        return render(request, "login.html", title=N_("Log in"), status_code=429, login_name=name,
                      next=safe_next(str(form.get("next") or "")), csrf=cookie,
                      error=i18n.tr(request).gettext(
                          "Too many failed logins. Wait a few minutes and try again."))
    if session is None:
        log(logger, logging.WARNING, "console login failed", admin=name)
        response: Response = render(request, "login.html", title=N_("Log in"), status_code=401,
                                    login_name=name, next=safe_next(str(form.get("next") or "")),
                                    error=i18n.tr(request).gettext("Wrong name or password."),
                                    csrf=cookie)
        return response
    response = redirect(safe_next(str(form.get("next") or "")))
    set_session(response, request, session.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin/login")
    log(logger, logging.INFO, "console login", admin=name)
    return response


@router.post("/logout")
async def logout(request: Request, form: CsrfForm, state: StateDep) -> Response:
    token = session_token(request)
    if token:
        admin_auth.logout(repo=state.repo, token=token)
    response = redirect("/admin/login")
    response.delete_cookie(ADMIN_COOKIE, path="/")
    return response


# ----------------------------------------------------------------------------- language

@router.get("/language")
def choose_language(lang: str = "", next: str = "/admin/") -> Response:
    """The console's language switcher (every page's header): a cookie for a year, then
    back to the page (docs/admin-guide.md "Language")."""
    response = redirect(safe_next(next))
    chosen = i18n.supported(lang[:20])
    if chosen:
        response.set_cookie(i18n.LANG_COOKIE, chosen, max_age=365 * 86400, path="/admin",
                            httponly=True, samesite="strict")
    return response
