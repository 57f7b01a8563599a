"""FastAPI routers of the sync server (thin: they translate HTTP to services/repository)."""
