"""Authoring in the admin console (issue 20): drafts, editors, the translation workspace.

Pure domain code over a pack *source folder* (docs/pack-format.md §1): no FastAPI, no
database. The console and the services call it with the folder of a draft.
"""
