"""Console pages: login / logout and the dashboard (docs/admin-guide.md). The other pages
are in pages_packs.py, pages_people.py and pages_exports.py."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.core.roles import ROLE_LABELS_EN, is_role
from sync_server.admin import charts, stats
from sync_server.admin.console import (
    LOGIN_CSRF_COOKIE,
    check_csrf,
    console_admin,
    new_login_csrf,
    redirect,
    render,
    safe_next,
    set_session,
)
from sync_server.admin.state import console_state
from sync_server.api.deps import ADMIN_COOKIE, get_state, login_admin
from sync_server.errors import TooManyAttemptsError
from sync_server.logs import log
from sync_server.security import token_hash

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)


# ----------------------------------------------------------------------------- login

@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/admin/") -> HTMLResponse:
    token = new_login_csrf()
    # the login form's csrf field is a double-submit value (there is no session yet)
    response = render(request, "login.html", title="Log in", next=safe_next(next), csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, path="/admin/login", httponly=True,
                        samesite="strict", max_age=3600)
    return response


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    sent, cookie = str(form.get("csrf") or ""), request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    name, password = str(form.get("name") or "")[:200], str(form.get("password") or "")[:1000]
    if not cookie or sent != cookie:
        raise HTTPException(403, "login form expired: reload the page and try again")
    state = get_state(request)
    address = request.client.host if request.client else "?"
    try:  # the throttle (failures counted in the database) is inside login_admin
        found = await run_in_threadpool(login_admin, state.repo, state.settings, name, password,
                                        address)
    except TooManyAttemptsError:
        log(logger, logging.WARNING, "console login throttled", admin=name)
        return render(request, "login.html", title="Log in", status_code=429, login_name=name,
                      next=safe_next(str(form.get("next") or "")), csrf=cookie,
                      error="Too many failed logins. Wait a few minutes and try again.")
    if found is None:
        log(logger, logging.WARNING, "console login failed", admin=name)
        response: Response = render(request, "login.html", title="Log in", status_code=401,
                                    login_name=name, next=safe_next(str(form.get("next") or "")),
                                    error="Wrong name or password.", csrf=cookie)
        return response
    token, _ = found
    response = redirect(safe_next(str(form.get("next") or "")))
    set_session(response, request, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin/login")
    log(logger, logging.INFO, "console login", admin=name)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_csrf(request)
    token = request.cookies.get(ADMIN_COOKIE)
    if token:
        get_state(request).repo.delete_admin_session(token_hash(token))
    response = redirect("/admin/login")
    response.delete_cookie(ADMIN_COOKIE, path="/")
    return response


# ----------------------------------------------------------------------------- dashboard

def _manifests(repo: Any) -> list[dict[str, Any]]:
    """Manifest of the newest *published* version of every pack."""
    newest: dict[str, int] = {}
    for pub in repo.list_publications():
        newest[pub.pack_id] = max(newest.get(pub.pack_id, 0), pub.version)
    out = []
    for pack_id, version in sorted(newest.items()):
        pack = repo.get_pack_version(pack_id, version)
        if pack is not None:
            out.append(json.loads(pack.manifest))
    return out


def dashboard_data(repo: Any, cs: Any, facility: str, role: str) -> dict[str, Any]:
    """Everything the dashboard shows, for one facility / role filter ("" = all)."""
    facilities = repo.list_facilities()
    learners = [lr for lr in repo.list_learners()
                if (not facility or lr.facility_id == facility) and (not role or lr.role == role)]
    manifests = _manifests(repo)
    events = cs.queries.cached_events()
    progress = stats.fold_progress(events)
    courses = stats.courses_of(manifests)
    cells = stats.course_rates(courses, learners, progress)
    names = {f.id: f.name for f in facilities}
    course_charts = []
    for course in courses:
        mine = [c for c in cells if c.course == course]
        if not mine:
            continue
        groups = [charts.BarGroup(f"{names.get(c.facility_id, c.facility_id)} · "
                                  f"{ROLE_LABELS_EN.get(c.role, c.role)}", (
            charts.Bar("completion", c.completion_rate, f"{c.completed} of {c.population}"),
            charts.Bar("pass rate", c.pass_rate, f"{c.passed} of {c.tried}")))
            for c in mine]
        course_charts.append((course.title, charts.grouped_bars(
            f"{course.title}: completion and pass rate", groups, ("completion", "pass rate"))))
    fac_ids = [f.id for f in facilities if not facility or f.id == facility]
    gap = stats.gap_heat_map(manifests, learners, events, fac_ids)
    gap_svg = charts.heat_map("Mean self-assessment gap per duty and facility", gap.rows,
                              [names.get(f, f) for f in gap.columns], gap.values,
                              max_gap=gap.max_gap) if gap.values else ""
    counts = {"facilities": len(facilities),
              "devices": sum(1 for d in repo.list_devices() if not d.revoked),
              "learners": len(repo.list_learners()), "events": repo.count_events().total,
              "certificates": repo.count_certificates()}
    return {"counts": counts, "facilities": facilities, "cells": cells,
            "course_charts": course_charts, "gap_svg": gap_svg}


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, facility: str = "", role: str = "") -> HTMLResponse:
    admin = console_admin(request)
    data = dashboard_data(get_state(request).repo, console_state(request), facility,
                          role if is_role(role) else "")
    return render(request, "dashboard.html", admin=admin, nav="dashboard", title="Dashboard",
                  sel_facility=facility, sel_role=role, **data)
