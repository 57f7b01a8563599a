"""Shift Learning device app: domain core (app.core), sync client (app.sync), Flet UI (app.ui)."""
