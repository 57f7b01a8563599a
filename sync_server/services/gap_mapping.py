"""The self-assessment mapping of every group: which (profile, task) a learner of a
facility and role rates, under which duty, against which expected level — from the pack
versions offered to that group (services/scope.py `offered`, the catalogue's rule).

The database keeps the gap map's totals under this mapping (db/gap_totals.py). The mapping
changes only when publications or facilities do, so it is stored with a key made of
exactly those inputs; `ensure_gap_mapping` compares keys (cheap: the dashboard calls it on
every render) and writes a new mapping, which recomputes the totals, only when the key
differs. Publishing, withdrawing and adding a facility call it at once, so the first
render after them does not pay the recompute.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from sync_server.db.repository import Publication, Repository
from sync_server.services.scope import manifest_of, offered
from sync_server.services.stats import gap_model

#: bump when the rows made from the same inputs change (a new rule here)
MAPPING_VERSION = 1

MappingRow = tuple[str, str, str, str, str, int]   # facility, role, profile, task, duty, level


def mapping_key(facilities: Iterable[str], publications: Iterable[Publication]) -> str:
    """What the mapping depends on: the facilities, and every publication's audience,
    pack version and state (a pack version's manifest never changes)."""
    data = [MAPPING_VERSION, sorted(facilities),
            sorted([p.id, p.pack_id, p.version, list(p.facilities), list(p.roles), p.active]
                   for p in publications)]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _tasks(manifest: dict[str, object]) -> list[tuple[str, str, str, dict[str, int]]]:
    """(profile, task, duty, expected level per role) of a manifest, as the heat map reads
    it (stats.gap_model)."""
    return [(pid, tid, duty, expected)
            for (pid, tid), ((_, duty), expected) in gap_model([manifest]).tasks.items()]


def mapping_rows(repo: Repository, facilities: list[str],
                 publications: list[Publication]) -> list[MappingRow]:
    manifests: dict[tuple[str, int], list[tuple[str, str, str, dict[str, int]]]] = {}
    for pub in publications:
        if pub.active and (pub.pack_id, pub.version) not in manifests:
            pack = repo.get_pack_version(pub.pack_id, pub.version)
            manifests[(pub.pack_id, pub.version)] = (
                _tasks(manifest_of(pack.manifest)) if pack else [])
    roles = sorted({r for tasks in manifests.values() for *_, expected in tasks for r in expected})
    rows: list[MappingRow] = []
    for facility in sorted(facilities):
        for role in roles:
            mine: dict[tuple[str, str], tuple[str, int]] = {}
            for pack_id, version in sorted(offered(publications, facility, role).items()):
                for pid, tid, duty, expected in manifests.get((pack_id, version), []):
                    if role in expected:
                        mine[(pid, tid)] = (duty, expected[role])
            rows += [(facility, role, pid, tid, duty, level)
                     for (pid, tid), (duty, level) in sorted(mine.items())]
    return rows


def ensure_gap_mapping(repo: Repository, *, facilities: Iterable[str] | None = None,
                       publications: list[Publication] | None = None) -> bool:
    """Bring the stored mapping (and so the gap totals) up to date with the publications
    and facilities; True when it had to be rewritten. A caller that has just read the
    facilities' ids or the publications passes them, and they are not read again."""
    ids = [f.id for f in repo.list_facilities()] if facilities is None else list(facilities)
    pubs = repo.list_publications() if publications is None else publications
    key = mapping_key(ids, pubs)
    if repo.gap_mapping_key() == key:
        return False
    return repo.replace_gap_mapping(mapping_rows(repo, ids, pubs), key)
