"""Flet views of the device app: thin renderers of the application layer's state
(app/core/application; docs/app.md, docs/architecture.md)."""
