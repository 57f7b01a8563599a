"""`make i18n`: extract UI strings, update every catalog, compile them (pybabel).

    python -m tools.i18n            extract → update (or init) → compile
    python -m tools.i18n --check    exit 1 if a catalog has an untranslated or fuzzy entry

Sources: app/ui/** and app/core/application/** (the device's application layer: role
labels, PIN pad sentences, resume labels), marked with ``_``, ``ngettext`` and ``N_``.
Catalogs: app/locales/<lang>/LC_MESSAGES/messages.po (+ compiled .mo, committed).

The admin console has its own domain (``console``, sync_server/admin/i18n.py): its
templates (``{{ _("…") }}``, ``ngettext``) and pages (``tr.gettext``, ``N_``) under
sync_server/admin/ and the facility report's PDF (sync_server/services/report_pdf.py), plus the words it shows from data — the audit log's action labels
(services/audit.py ACTIONS) and the role labels (app/core/roles.py) — into
sync_server/admin/locales/<lang>/LC_MESSAGES/console.po (+ .mo) for en, lt, ro, pt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.i18n import DOMAIN, LOCALE_DIR, UI_LOCALES  # noqa: E402

POT = LOCALE_DIR / f"{DOMAIN}.pot"
SOURCES = [ROOT / "app" / "ui", ROOT / "app" / "core" / "application"]


def pybabel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def extract() -> None:
    pybabel("extract", "--no-location", "--sort-output", "-k", "N_", "-k", "_",
            "--project", "Shift Learning", "--copyright-holder", "PROMOTE / WORKPRIS partners",
            "-o", str(POT), *[str(s.relative_to(ROOT)) for s in SOURCES])


def update() -> None:
    for lang in UI_LOCALES:
        po = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po.exists():
            pybabel("update", "--no-fuzzy-matching", "--ignore-obsolete", "-i", str(POT),
                    "-d", str(LOCALE_DIR), "-D", DOMAIN, "-l", lang)
        else:
            pybabel("init", "-i", str(POT), "-d", str(LOCALE_DIR), "-D", DOMAIN, "-l", lang)


def compile_all() -> None:
    pybabel("compile", "-d", str(LOCALE_DIR), "-D", DOMAIN, "--statistics")


def problems(lang: str, locale_dir: Path = LOCALE_DIR, domain: str = DOMAIN) -> list[str]:
    """Untranslated / fuzzy entries of one catalog — the app's, or with `locale_dir` and
    `domain` the console's (English may stay empty: the source strings are English)."""
    po = locale_dir / lang / "LC_MESSAGES" / f"{domain}.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    out = []
    for msg in catalog:
        if not msg.id:
            continue
        if msg.fuzzy:
            out.append(f"{po}: fuzzy: {msg.id!r}")
        strings = msg.string if isinstance(msg.string, tuple) else (msg.string,)
        if lang != "en" and not all(strings):
            out.append(f"{po}: untranslated: {msg.id!r}")
    return out


# ----- the admin console's catalog ---------------------------------------------------------
from sync_server.admin.i18n import CONSOLE_LOCALES  # noqa: E402
from sync_server.admin.i18n import DOMAIN as CONSOLE_DOMAIN  # noqa: E402
from sync_server.admin.i18n import LOCALE_DIR as CONSOLE_DIR  # noqa: E402

CONSOLE_POT = CONSOLE_DIR / f"{CONSOLE_DOMAIN}.pot"
CONSOLE_MAPPING = ROOT / "tools" / "console-babel.cfg"
#: console words written outside sync_server/admin/: the facility report's PDF
CONSOLE_EXTRA = [ROOT / "sync_server" / "services" / "report_pdf.py"]


def data_words() -> list[str]:
    """Console words that come from data, not from a literal in a call: audit action
    labels and role labels."""
    from app.core.roles import ROLE_LABELS_EN
    from sync_server.services.audit import ACTIONS
    return sorted({*ACTIONS.values(), *ROLE_LABELS_EN.values()})


def extract_console() -> None:
    from babel.messages.pofile import write_po
    pybabel("extract", "--no-location", "--sort-output", "-F", str(CONSOLE_MAPPING),
            "-k", "N_", "-k", "_", "--project", "Shift Learning console",
            "--copyright-holder", "PROMOTE / WORKPRIS partners", "-o", str(CONSOLE_POT),
            str((ROOT / "sync_server" / "admin").relative_to(ROOT)),
            *[str(p.relative_to(ROOT)) for p in CONSOLE_EXTRA])
    with CONSOLE_POT.open("rb") as fh:
        catalog = read_po(fh)
    for word in data_words():
        if word not in catalog:
            catalog.add(word)
    with CONSOLE_POT.open("wb") as fh:
        write_po(fh, catalog, omit_header=False, sort_output=True, no_location=True)


def update_console() -> None:
    for lang in CONSOLE_LOCALES:
        po = CONSOLE_DIR / lang / "LC_MESSAGES" / f"{CONSOLE_DOMAIN}.po"
        verb = "update" if po.exists() else "init"
        extra = ["--no-fuzzy-matching", "--ignore-obsolete"] if po.exists() else []
        pybabel(verb, *extra, "-i", str(CONSOLE_POT), "-d", str(CONSOLE_DIR),
                "-D", CONSOLE_DOMAIN, "-l", lang)


def compile_console() -> None:
    pybabel("compile", "-d", str(CONSOLE_DIR), "-D", CONSOLE_DOMAIN, "--statistics")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.i18n")
    parser.add_argument("--check", action="store_true", help="only check completeness")
    args = parser.parse_args(argv)
    if not args.check:
        extract()
        update()
        compile_all()
        extract_console()
        update_console()
        compile_console()
    issues = [p for lang in UI_LOCALES for p in problems(lang)]
    issues += [p for lang in CONSOLE_LOCALES
               for p in problems(lang, CONSOLE_DIR, CONSOLE_DOMAIN)]
    for line in issues:
        print(line)
    print(f"i18n: {len(UI_LOCALES)} catalogs, {len(issues)} problems")
    return 1 if issues and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
