"""What the server does, without HTTP: one function per action, keyword-only and typed,
validating once for the JSON API, the console and the CLI alike; the storage is the
repository (sync_server/db/). Errors carry their kind (sync_server/errors.py), which the
HTTP layer maps to a status.

    admin_auth        admin accounts, login, sessions   login_throttle   lock-out
    facilities        facilities                        devices          enrolment, devices
    learners          learners (admin side)             profiles         profiles pushed by tablets
    learners_csv      the learner CSV format            quota            daily push quotas
    sync              push and pull                     packs            upload, publish, roll back
    pack_delivery     catalogue and downloads of devices
    issuing           certificates issued after pushes  evidence         what proves a course
    certificates      certificate admin + public lookups  certificate_audit  re-judging old ones
    reports           dashboard figures and exports     stats, exports   folds and file formats
    queries           cached event reads of the reports
"""
