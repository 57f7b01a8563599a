"""Form ↔ source file, one module per editor (course, lesson, quiz, profile).

Each editor reads the part of a draft it edits into plain values for a form, and writes
the posted values back into the file through the strict TOML writer (tomlwrite.py),
keeping every field it does not edit as it was. Values are written as typed (a number
field that holds no number is written as text), so the builder's own message names the
field — the same message `pack build` gives — instead of a second rule set here.
"""
