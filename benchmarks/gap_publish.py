"""Publishing at national scale (issue 18): how long a publication holds the write lock
while the gap map's totals follow it, as ratios to a full recompute of those totals
measured in the same run (what every publication cost before the recompute followed only
the groups it changes).

    python benchmarks/gap_publish.py [--staff 50000] [--cache DIR] [--postgres URL|auto|off]

The database is admin_dashboard.py's `--staff` one (the same generator; reused from
--cache, where that benchmark keeps it), copied first so the cache is not changed: N
learners in 20 facilities, officers and psychologists, one profile of 6 duties × 4 tasks
published to everyone, ≈ 10 ratings each. On it, one after the other, each timed around
`services.gap_mapping.ensure_gap_mapping` (what the console's publishing calls):

  baseline      – the full recompute (`db.gap_totals.regap` in a write transaction);
  course pack   – a pack without profiles published to every facility: the mapping's
                  key changes, its rows do not;
  1 group       – a new version of the profile pack (one task's levels changed)
                  published to one facility's officers: 1 group of 40 recomputed;
  10 groups     – a version changing the officers' level only (to v2's), published to
                  10 other facilities: their officers, recomputed group by group (the
                  most that path takes: a quarter of the groups);
  40 groups     – a version changing both roles' levels, published to everyone: every
                  group, so one full recompute.

PostgreSQL (--postgres URL, or auto: a throw-away cluster via tests/support/postgres.py;
off to skip): the learners, ratings, facilities and packs are copied into a fresh schema
(admin_dashboard.copy_to_postgres: triggers off, then the totals made once), and the same
cases run there.
Figures only: the issue sets no target for publishing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.admin_dashboard import (  # noqa: E402
    FACILITIES,
    MANIFEST,
    T0,
    copy_to_postgres,
    staff_database,
    timed,
)
from benchmarks.disk import flush_writes  # noqa: E402

#: what the PostgreSQL copy needs (parents first: foreign keys)
PG_TABLES = ("facilities", "learners", "packs", "publications", "self_ratings")


def _versions() -> list[tuple[str, int, dict[str, Any]]]:
    """A pack without profiles; versions 2–4 of the profile pack, each changing the
    expected levels of one task: v2 both roles', v3 the officers' only (to v2's), v4 both
    roles' again."""
    course_only = {"id": "extra", "version": 1, "audience_roles": [],
                   "courses": [{"id": "x1", "title": {"en": "Extra"}}], "profiles": []}
    out: list[tuple[str, int, dict[str, Any]]] = [("extra", 1, course_only)]
    for version, officer, psychologist in ((2, 4, 3), (3, 4, 2), (4, 2, 1)):
        changed = json.loads(json.dumps(MANIFEST))
        changed["version"] = version
        changed["profiles"][0]["duties"][0]["tasks"][0]["expected"] = {
            "prison_officer": officer, "psychologist": psychologist}
        out.append(("bench", version, changed))
    return out


def run_cases(url: str) -> dict[str, float]:
    """The cases of the module docstring on the database at `url` (seconds each)."""
    from sync_server.db import open_repository
    from sync_server.db.aggregates import snapshot
    from sync_server.db.gap_totals import regap
    from sync_server.db.locks import LOCK_EVENTS, LOCK_LEARNERS
    from sync_server.db.repository import PackVersion
    from sync_server.services.gap_mapping import ensure_gap_mapping

    repo = open_repository(url, pool_size=1)
    ensure_gap_mapping(repo)            # a database made before schema 15 has none yet
    for pack_id, version, manifest in _versions():
        repo.add_pack_version(PackVersion(pack_id, version, json.dumps(manifest).encode(),
                                          b"{}", '{"en": "x"}', 0, T0, "b"))

    def full() -> None:
        with repo._write(LOCK_EVENTS, LOCK_LEARNERS) as cur:  # type: ignore[attr-defined]
            regap(cur, repo.dialect)

    def publish(pack_id: str, version: int, facilities: list[str], roles: list[str]
                ) -> Callable[[], object]:
        repo.publish(pack_id, version, facilities, roles, "b", T0)
        return lambda: ensure_gap_mapping(repo)

    base = [timed(full) for _ in range(3)]
    print(f"{repo.dialect}: full recomputes {', '.join(f'{b * 1000:.0f}' for b in base)} ms")
    out = {"baseline": min(base),
           "course pack": timed(publish("extra", 1, [], [])),
           "1 group": timed(publish("bench", 2, ["f0"], ["prison_officer"])),
           "10 groups": timed(publish("bench", 3, [f"f{i}" for i in range(1, 11)], [])),
           f"{FACILITIES * 2} groups": timed(publish("bench", 4, [], []))}
    with repo._write() as cur:  # type: ignore[attr-defined]
        cur.execute("SELECT COUNT(*) FROM learner_duties")
        out["learner_duties"] = float(cur.fetchone()[0])
        kept = snapshot(cur)
    full()
    with repo._write() as cur:  # type: ignore[attr-defined]
        assert snapshot(cur) == kept, "the totals after the publications differ from a recompute"
    repo.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--staff", type=int, default=50_000)
    ap.add_argument("--cache", type=Path, default=None,
                    help="admin_dashboard.py's cache folder (its --staff database)")
    ap.add_argument("--postgres", default="auto", help="URL, 'auto' or 'off'")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        folder = args.cache or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        source = staff_database(folder, args.staff, print)
        work = Path(tmp) / "copy.sqlite3"
        shutil.copyfile(source, work)
        flush_writes(print)
        results = {"SQLite": run_cases(f"sqlite:///{work}")}
        if args.postgres != "off":
            try:
                from tests.support.postgres import base_url, fresh_database_url
                pg = fresh_database_url(base_url() if args.postgres == "auto" else args.postgres)
                copy_to_postgres(source, pg, PG_TABLES)   # as generated, not as changed above
                results["PostgreSQL"] = run_cases(pg)
            except Exception as exc:  # noqa: BLE001 - no PostgreSQL here: say so, go on
                print(f"PostgreSQL skipped: {exc!r}")
    groups = FACILITIES * 2
    print(f"\n{args.staff:,} staff, {groups} groups (facility × role), one profile")
    for name, r in results.items():
        print(f"{name}: {int(r['learner_duties']):,} learner × duty rows")
        for case in ("baseline", "course pack", "1 group", "10 groups", f"{groups} groups"):
            print(f"  {case:14} {r[case] * 1000:9.0f} ms  {r[case] / r['baseline']:6.2f}× "
                  "the full recompute")
    return 0


if __name__ == "__main__":
    sys.exit(main())
