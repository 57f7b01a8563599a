"""Shift Learning sync server (FastAPI): enrolment, event sync, packs, admin console."""
