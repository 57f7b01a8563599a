"""The storage interface of the sync server: one small typed store per kind of record,
composed into the `Repository` the app uses.

    kind            store (Protocol)   records                              module
    meta            MetaStore          (epoch, scan cursors)                meta.py
    facilities      FacilityStore      Facility                             facilities.py
    admins          AdminStore         Admin (+ bearer sessions)            admins.py
    login throttle  LoginStore         (failed / known logins)              logins.py
    devices         DeviceStore        Device (+ enrolment codes)           devices.py
    learners        LearnerStore       Learner, ProfileResult               learners.py
    bulk changes    LearnerBulkStore   PinSetupChange, BulkConflict         learners_bulk.py
    events          EventStore         EventRow, StoredEvent, EventCounts   events.py
    packs           PackStore          PackVersion, Publication, InstalledPack  packs.py
    certificates    CertificateStore   CertificateRecord                    certificates.py
    usage / quotas  UsageStore         DeviceUsage                          usage.py
    report aggr.    AggregateStore     LatestRating, ProgressRow aggregates.py
    report reads    ReportStore        StatusCount, LearnerPage, Tiles      report_queries.py
    progress report ProgressReportStore ReportScope, ReportRow             progress_report.py
    audit log       AuditStore         AuditEntry, AuditRecord              audit.py
    erasure         ErasureStore       Tombstone, SummaryRow                erasure.py
    drafts          DraftStore         Draft (studio drafts)                drafts.py

Each module holds its records, its Protocol and its SQL (`…Sql`, one text for SQLite and
PostgreSQL); sql.py composes the SQL classes, sqlite.py and postgres.py add the dialect.
A service names the narrowest store it needs (e.g. the login throttle takes a
`LoginStore`); code that needs several kinds takes the `Repository`. Both dialects pass
the same tests (tests/unit/test_server_repository.py). Times are ISO-8601 UTC strings in
the events' `at` format (`2026-11-23T15:38:28.123Z`), which sort correctly as text.

A new kind of record: a module with its records, `…Store` and `…Sql`, a schema version
in schema.py, and one line each in `Repository` below and in `SqlRepository` (sql.py).
Backups find new tables by themselves (sync_server/backup/tables.py).
"""

from __future__ import annotations

from typing import Protocol

from sync_server.db.admins import Admin, AdminStore
from sync_server.db.aggregates import (
    AggregateStore,
    LatestRating,
    ProgressRow,
    RebuildCounts,
    Rebuilt,
    Snapshot,
)
from sync_server.db.audit import AuditEntry, AuditQuery, AuditRecord, AuditStore
from sync_server.db.certificates import CertificateRecord, CertificateStore
from sync_server.db.devices import Device, DeviceStore
from sync_server.db.drafts import Draft, DraftStore
from sync_server.db.erasure import ErasureCounts, ErasureStore, SummaryRow, Tombstone
from sync_server.db.events import EventCounts, EventRow, EventStore, InsertStatus, StoredEvent
from sync_server.db.facilities import Facility, FacilityStore
from sync_server.db.learners import Learner, LearnerStore, ProfileResult
from sync_server.db.learners_bulk import BulkConflict, LearnerBulkStore, PinSetupChange
from sync_server.db.logins import LoginStore
from sync_server.db.meta import MetaStore
from sync_server.db.packs import InstalledPack, PackStore, PackVersion, Publication
from sync_server.db.progress_report import ProgressReportStore, ReportRow, ReportScope
from sync_server.db.report_queries import (
    CourseLearner,
    LearnerPage,
    ReportStore,
    StatusCount,
    Tiles,
)
from sync_server.db.usage import DeviceUsage, UsageStore


class Repository(MetaStore, FacilityStore, AdminStore, LoginStore, DeviceStore, LearnerStore,
                 EventStore, PackStore, CertificateStore, UsageStore, AggregateStore, AuditStore,
                 ErasureStore, ReportStore, DraftStore, ProgressReportStore,
                 LearnerBulkStore, Protocol):
    """Every store of the server on one database connection pool."""

    dialect: str

    def close(self) -> None: ...


__all__ = [
    "Admin", "AdminStore", "BulkConflict", "LearnerBulkStore", "PinSetupChange", "AggregateStore", "LatestRating", "ProgressRow",
    "RebuildCounts", "Rebuilt", "Snapshot", "AuditEntry", "AuditQuery", "AuditRecord",
    "AuditStore", "ErasureCounts", "ErasureStore", "SummaryRow", "Tombstone",
    "CertificateRecord", "CertificateStore", "Device", "DeviceStore", "Draft", "DraftStore",
    "DeviceUsage", "EventCounts", "EventRow", "EventStore", "Facility", "FacilityStore",
    "InsertStatus", "InstalledPack", "Learner", "LearnerStore", "LoginStore", "MetaStore",
    "PackStore", "PackVersion", "ProfileResult", "Publication", "Repository", "StoredEvent",
    "UsageStore", "ReportStore", "StatusCount", "LearnerPage", "CourseLearner", "Tiles",
    "ProgressReportStore", "ReportRow", "ReportScope",
]
