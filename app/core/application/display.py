"""Display preferences of the tablet: text size and high contrast (store settings).

They belong to the tablet, not to a learner (a colleague with weaker eyes sets "larger"
for the shift). The theme (app/ui/theme.py) scales every text style by TEXT_SCALE.
"""

from __future__ import annotations

from app.core.errors import StoreError

TEXT_SIZES: tuple[str, ...] = ("normal", "large", "larger")
TEXT_SCALE = {"normal": 1.0, "large": 1.2, "larger": 1.45}
#: Setting names (app/core/store/settings.py validates their values).
TEXT_SIZE_SETTING = "text_size"
HIGH_CONTRAST_SETTING = "high_contrast"


def text_size_or_default(value: object) -> str:
    """A stored text size, or "normal" for anything else."""
    return value if isinstance(value, str) and value in TEXT_SIZES else "normal"


def check_text_size(size: str) -> str:
    if size not in TEXT_SIZES:
        raise StoreError(f"text_size: expected one of {', '.join(TEXT_SIZES)}")
    return size
