"""The authoring studio's file side (issue 20, docs/authoring.md "Studio"): a draft is a
pack source folder (docs/pack-format.md §1) under `<data dir>/drafts/<draft id>/`.

    drafts.py       where a draft's folder is, a new pack's folder, zip out / zip in
    unbuild.py      the source folder of a built pack (open a stored version as a draft)
    tomlwrite.py    the strict TOML writer the editors save with
    translation/    the translation workspace: strings, statuses, XLIFF / PO (issue 20)

No database and no services here: sync_server/services/drafts.py composes these with the
`drafts` table, the roles and the audit log.
"""
