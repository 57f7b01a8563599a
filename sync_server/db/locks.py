"""Writer groups serialised across server processes (PostgreSQL advisory lock ids; SQLite
has one write lock anyway). See sync_server/db/base.py (`_write`)."""

LOCK_MIGRATE = 7_243_000
LOCK_EVENTS = 7_243_001
LOCK_LEARNERS = 7_243_002
LOCK_USAGE = 7_243_003
