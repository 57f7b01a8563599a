"""The JSON API (/api/v1, OpenAPI): device enrolment, sync, packs, and the admin API.
HTTP only: routes translate a request into a service call (sync_server/services/) and
its result or error back; deps.py says what a route needs (typed dependencies)."""
