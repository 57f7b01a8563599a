"""The translation workspace's domain (issue 20, docs/authoring.md §9): the strings of a
pack source folder, their statuses, saving and reviewing them, XLIFF 2.0 and PO.

    model.py          Unit, Status, Mark, Entry, the source hash
    toml_strings.py   localized TOML strings found by shape, with stable ids
    lesson_blocks.py  a lesson cut into blocks (segments) and put back together
    extract.py        every string of a source folder in one target language
    toml_edit.py      in-place edits of TOML sources (comments kept)
    state.py          translations/<lang>.toml (statuses)
    pack_status.py    pack.toml's machine_translated / partial_languages / [reviews]
    workspace.py      entries, progress, save, mark reviewed
    exchange.py       an imported file checked and applied
    xliff.py, po.py   the two file formats

Pure: a source folder in, files out; no database, no FastAPI (services/translations.py
adds roles and the audit log).
"""
