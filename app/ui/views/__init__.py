"""One module per screen; each exposes `build(ctx, route) -> ft.View`."""
