"""Server logic behind the routers (no HTTP here)."""
