"""The admin console (server-rendered Jinja2 pages, bundled CSS, no remote assets) and the
public certificate pages (/verify/{id}, the certificate files, /issuer, /achievements,
/status). HTTP only: every action is a service call (sync_server/services/); the routers
are included by sync_server/app.py (ROUTERS)."""
