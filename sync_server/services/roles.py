"""Console roles of admin accounts (issue 20, docs/authoring.md "Studio" → "Roles").

    admin       every right (every account made before schema 13 keeps it)
    author      drafts only: create, edit, import, export, check
    reviewer    marks translations reviewed (the translation workspace)
    publisher   builds a draft into a signed version and publishes versions

An account has one or more roles (stored comma-separated in `admins.roles`). The checks
are here, called by the services that act (drafts, builds, publishing), so the JSON API,
the console and the CLI refuse alike; the console also hides what an account cannot do,
but that is only a convenience. A refusal is recorded in the audit log.
"""

from __future__ import annotations

from sync_server.db.repository import Admin, Repository
from sync_server.errors import ForbiddenError, ServerError
from sync_server.services import audit

FULL = "admin"
AUTHOR = "author"
REVIEWER = "reviewer"
PUBLISHER = "publisher"
CONSOLE_ROLES = (FULL, AUTHOR, REVIEWER, PUBLISHER)
ROLE_TEXT = {FULL: "full administrator", AUTHOR: "author (drafts)",
             REVIEWER: "reviewer (translations)", PUBLISHER: "publisher (build, publish)"}


def roles_of(admin: Admin) -> frozenset[str]:
    return frozenset(r for r in admin.roles.split(",") if r in CONSOLE_ROLES)


def has_role(admin: Admin, role: str) -> bool:
    """Whether `admin` may act as `role` (a full admin may do everything)."""
    mine = roles_of(admin)
    return FULL in mine or role in mine


def is_full_admin(admin: Admin) -> bool:
    return FULL in roles_of(admin)


def require_role(repo: Repository, admin: Admin, role: str, action: str,
                 target: str = "") -> None:
    """ForbiddenError (and an audit row, outcome `refused`) unless `admin` has `role`."""
    if has_role(admin, role):
        return
    audit.record(repo, admin.name, action, target=target, outcome="refused",
                 needs=role, roles=sorted(roles_of(admin)))
    raise ForbiddenError(f"{admin.name!r} is not a {ROLE_TEXT.get(role, role)}: this needs "
                         f"the {role!r} role (ask a full administrator)")


def parse_roles(text: str) -> tuple[str, ...]:
    """``"author, publisher"`` → ("author", "publisher"); ServerError for an unknown
    role or none at all."""
    roles = tuple(dict.fromkeys(r.strip() for r in text.replace(" ", ",").split(",")
                                if r.strip()))
    bad = [r for r in roles if r not in CONSOLE_ROLES]
    if bad or not roles:
        raise ServerError(f"roles: {', '.join(bad) or 'none given'}; choose from "
                          f"{', '.join(CONSOLE_ROLES)}")
    return roles


def set_roles(*, repo: Repository, name: str, roles: str, by: str) -> tuple[str, ...]:
    """Replace the console roles of admin `name` (a full administrator's action; the
    CLI's `admin roles`). NotFoundError for an unknown admin."""
    parsed = parse_roles(roles)
    repo.set_admin_roles(name, ",".join(parsed),
                         audit=audit.entry(by, "admin.roles", target=name, roles=list(parsed)))
    return parsed
