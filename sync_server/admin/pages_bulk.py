"""Console pages: bulk actions on the learners page (issue 21) — tick learners, choose
deactivate / reactivate / move / new PIN set-up codes, review a page that names every
person and the action, confirm. The work is services/learners_bulk.py (one transaction,
one audit entry per learner, at most 500); both steps are CSRF-checked POSTs."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from app.core.errors import ShiftError
from sync_server.admin.console import ConsoleAdminDep, CsrfForm, form_text, redirect, render
from sync_server.admin.i18n import Tr, tr
from sync_server.admin.pages_people import pin_codes_page
from sync_server.api.deps import StateDep
from sync_server.logs import log
from sync_server.services import facilities, learners_bulk
from sync_server.services.learners_bulk import MAX_BULK, BulkError, BulkPlan

logger = logging.getLogger("sync_server.console")
router = APIRouter(prefix="/admin", include_in_schema=False)
#: names listed in a flash after the action (the rest are counted)
NAMED = 10


def _back(value: str) -> str:
    """Back to the learners list the admin came from (a local path only)."""
    return value if value.startswith("/admin/learners") and "//" not in value else \
        "/admin/learners"


def _ids(form: CsrfForm) -> list[str]:
    # one more than allowed is enough to say "too many" (the service counts again)
    return [str(v) for v in form.getlist("ids")[:MAX_BULK + 1]]


def bulk_error_text(t: Tr, exc: BulkError) -> str:
    """The admin's sentence for a refused bulk action, by its code."""
    texts = {
        "none_selected": t.gettext("Tick at least one learner first."),
        "too_many": t.gettext("%(count)d learners ticked: at most %(max)d per action. Filter "
                              "the list and act on each part.", count=exc.count, max=MAX_BULK),
        "bad_action": t.gettext("Choose an action."),
        "no_facility": t.gettext("Choose the facility to move them to."),
        "unknown_learner": t.gettext("Some of the ticked learners no longer exist (erased?). "
                                     "Reload the list."),
        "changed": t.gettext("Some of these learners changed since you confirmed (another "
                             "admin or a tablet): nothing was done. Review again."),
    }
    return texts.get(exc.reason, str(exc))


def skip_reasons(t: Tr) -> dict[str, str]:
    return {"deactivated_already": t.gettext("deactivated already"),
            "active_already": t.gettext("active already"),
            "deactivated": t.gettext("deactivated: reactivate them instead (that gives a new "
                                     "code)"),
            "there_already": t.gettext("in that facility already"),
            "staff_number_taken": t.gettext("that facility already has someone with this "
                                            "staff number")}


def _texts(t: Tr, plan: BulkPlan) -> dict[str, str]:
    """The confirmation page's heading, summary, consequence and button for a plan."""
    n = len(plan.people)
    to = plan.facility.name if plan.facility else ""
    if plan.action == "deactivate":
        return {"heading": t.ngettext("Deactivate %(num)d learner?",
                                      "Deactivate %(num)d learners?", n),
                "summary": t.ngettext("These %(num)d person leaves: deactivate them.",
                                      "These %(num)d people leave: deactivate them.", n),
                "consequence": t.gettext("Their PINs and set-up codes are removed, so no "
                                         "tablet lets them sign in after its next sync. Their "
                                         "records and certificates are kept; reports stop "
                                         "counting them among those still to train."),
                "button": t.ngettext("Deactivate %(num)d learner", "Deactivate %(num)d learners",
                                     n)}
    if plan.action == "reactivate":
        return {"heading": t.ngettext("Reactivate %(num)d learner?",
                                      "Reactivate %(num)d learners?", n),
                "summary": t.ngettext("Reactivate this %(num)d person.",
                                      "Reactivate these %(num)d people.", n),
                "consequence": t.gettext("Each gets a new one-time PIN set-up code, shown on "
                                         "the next page only: print the slips."),
                "button": t.ngettext("Reactivate %(num)d learner",
                                     "Reactivate %(num)d learners", n)}
    if plan.action == "move":
        return {"heading": t.ngettext("Move %(num)d learner to %(to)s?",
                                      "Move %(num)d learners to %(to)s?", n, to=to),
                "summary": t.ngettext("Move this %(num)d person to %(to)s.",
                                      "Move these %(num)d people to %(to)s.", n, to=to),
                "consequence": t.gettext("Their whole history goes with them: tablets of "
                                         "%(to)s pull it at their next sync; tablets of their "
                                         "old facility can no longer record for them.", to=to),
                "button": t.ngettext("Move %(num)d learner to %(to)s",
                                     "Move %(num)d learners to %(to)s", n, to=to)}
    return {"heading": t.ngettext("New PIN set-up code for %(num)d learner?",
                                  "New PIN set-up codes for %(num)d learners?", n),
            "summary": t.ngettext("Remove the PIN of this %(num)d person and issue a new "
                                  "one-time set-up code.",
                                  "Remove the PINs of these %(num)d people and issue new "
                                  "one-time set-up codes.", n),
            "consequence": t.gettext("Tablets drop the old PINs at their next sync. The codes "
                                     "are shown on the next page only: print the slips."),
            "button": t.ngettext("Issue %(num)d new code", "Issue %(num)d new codes", n)}


@router.post("/learners/bulk", response_class=HTMLResponse)
async def bulk_review(request: Request, admin: ConsoleAdminDep, form: CsrfForm,
                      state: StateDep) -> Response:
    """The confirmation page: the people the action changes, and who it leaves out."""
    t, back = tr(request), _back(form_text(form, "back"))
    try:
        plan = await run_in_threadpool(lambda: learners_bulk.plan_bulk(
            repo=state.repo, learner_ids=_ids(form), action=form_text(form, "action"),
            facility_id=form_text(form, "facility")))
    except BulkError as exc:
        return redirect(back, flash=("error", bulk_error_text(t, exc)))
    names = {f.id: f.name for f in facilities.list_facilities(repo=state.repo)}
    texts = _texts(t, plan)
    return render(request, "bulk_confirm.html", admin=admin, nav="learners",
                  title=texts["heading"], plan=plan, back=back, facility_names=names,
                  reasons=skip_reasons(t), heading=texts["heading"], summary=texts["summary"],
                  consequence=texts["consequence"], button=texts["button"])


@router.post("/learners/bulk/confirm", response_class=HTMLResponse)
async def bulk_confirm(request: Request, admin: ConsoleAdminDep, form: CsrfForm,
                       state: StateDep) -> Response:
    """Do the confirmed action for exactly the people named on the confirmation page."""
    t, back = tr(request), _back(form_text(form, "back"))
    action = form_text(form, "action")
    try:
        done = await run_in_threadpool(lambda: learners_bulk.apply_bulk(
            repo=state.repo, learner_ids=_ids(form), action=action,
            facility_id=form_text(form, "facility"),
            setup_ttl_s=state.settings.pin_setup_ttl_s, by=admin.name))
    except BulkError as exc:
        return redirect(back, flash=("error", bulk_error_text(t, exc)))
    except ShiftError as exc:
        return redirect(back, flash=("error", str(exc)))
    people = done.plan.people
    log(logger, logging.INFO, "console bulk action", admin=admin.name, action=action,
        learners=len(people))
    if done.setups:
        return pin_codes_page(request, admin, done.setups, created=False)
    names = ", ".join(f"{lr.display_name} ({lr.staff_number})" for lr in people[:NAMED])
    if len(people) > NAMED:
        names += " " + t.gettext("and %(more)d more", more=len(people) - NAMED)
    if action == "move":
        to = done.plan.facility.name if done.plan.facility else ""
        text = t.ngettext("Moved %(num)d learner to %(to)s: %(names)s.",
                          "Moved %(num)d learners to %(to)s: %(names)s.", len(people),
                          to=to, names=names)
    else:
        text = t.ngettext("Deactivated %(num)d learner: %(names)s.",
                          "Deactivated %(num)d learners: %(names)s.", len(people),
                          names=names)
    return redirect(back, flash=("ok", text))
