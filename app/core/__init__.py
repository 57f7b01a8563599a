"""Pure domain code. Imports neither flet, fastapi nor httpx (checked by tests/unit/test_layering.py)."""
