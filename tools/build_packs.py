"""`make packs`: build every pack source in content_packs/ with the dev key into var/packs/.

With `--strict` (what `make packs` runs) a pack with a quiz quality finding
(app/core/packs/quality.py) is not built: its findings are errors.

The dev key (var/dev-keys/dev.key + dev.key.pub) is generated on first use. It is for
development and demos only — var/ is not committed, and a real deployment signs with the
admin's own key (docs/authoring.md "Keys").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.core.errors import ShiftError  # noqa: E402
from app.core.packs import build_from_source, load_private_key, read_source, write_keypair  # noqa: E402
from app.core.packs.quality import source_quality  # noqa: E402

DEV_KEY = ROOT / "var" / "dev-keys" / "dev.key"


def dev_key(path: Path = DEV_KEY) -> Path:
    """Path of the dev private key, created (with .pub) if missing."""
    if not path.exists():
        write_keypair(path)
        print(f"created dev signing key {path} (+ .pub)", file=sys.stderr)
    return path


def _short(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def build_all(src_root: Path, out_dir: Path, key_file: Path, *, strict: bool = False
              ) -> tuple[list[Path], list[str]]:
    """Build each pack; one broken source does not stop the others. Returns (built, errors).
    Quiz quality findings are warnings, or errors (the pack is not built) when `strict`."""
    key = load_private_key(dev_key(key_file))
    built: list[Path] = []
    errors: list[str] = []
    for src in sorted(p for p in src_root.iterdir() if (p / "pack.toml").is_file()):
        try:
            source = read_source(_short(src))
            for w in source.warnings:
                print(f"warning: {w}", file=sys.stderr)
            findings = [str(f) for f in source_quality(source).findings]
            if strict and findings:
                errors += findings
                continue
            for w in findings:
                print(f"warning: {w}", file=sys.stderr)
            built.append(build_from_source(source, key, out_dir))
        except ShiftError as exc:
            errors.append(str(exc))
    return built, errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=ROOT / "content_packs")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "packs")
    ap.add_argument("--key", type=Path, default=DEV_KEY)
    ap.add_argument("--strict", action="store_true",
                    help="quiz quality findings are errors (the pack is not built)")
    args = ap.parse_args(argv)
    try:
        built, errors = build_all(args.src, args.out, args.key, strict=args.strict)
    except ShiftError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in built:
        print(_short(path))
    for err in errors:
        print(f"error: {err}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
