"""Flet views of the device app: thin renderers of app.core.device state (docs/app.md)."""
