"""The repository on a DB-API connection: every kind's SQL composed on one pool.

The kinds (db/repository.py) share `SqlBase` (db/base.py: pool, transactions, dialect
hooks); the dialects (sqlite.py, postgres.py) subclass this class. Opening it migrates
the database to the latest schema (db/migrate.py).
"""

from __future__ import annotations

from sync_server.db.admins import AdminSql
from sync_server.db.aggregates import AggregateSql
from sync_server.db.audit import AuditSql
from sync_server.db.certificates import CertificateSql
from sync_server.db.devices import DeviceSql
from sync_server.db.drafts import DraftSql
from sync_server.db.erasure import ErasureSql
from sync_server.db.events import EventSql
from sync_server.db.facilities import FacilitySql
from sync_server.db.learners import LearnerSql
from sync_server.db.learners_bulk import LearnerBulkSql
from sync_server.db.logins import LoginSql
from sync_server.db.meta import MetaSql
from sync_server.db.migrate import migrate
from sync_server.db.packs import PackSql
from sync_server.db.progress_report import ProgressReportSql
from sync_server.db.report_queries import ReportSql
from sync_server.db.usage import UsageSql


class SqlRepository(MetaSql, FacilitySql, AdminSql, LoginSql, DeviceSql, LearnerSql, EventSql,
                    PackSql, CertificateSql, UsageSql, AggregateSql, AuditSql, ErasureSql,
                    ReportSql, DraftSql, ProgressReportSql, LearnerBulkSql):
    """`Repository` (db/repository.py) in SQL; the dialect subclasses open it."""

    def __init__(self, pool_size: int) -> None:
        self._open_pool(pool_size)
        migrate(self)
