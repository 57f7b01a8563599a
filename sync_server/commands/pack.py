"""`python -m sync_server pack build|verify` — build a signed pack, or verify one.

    pack build SRC_DIR --key KEYFILE --out DIR [--version N] [--strict]
                                                   last stdout line: the .pack path
    pack verify PACKFILE --trust PUBFILE [--trust …] [--installed-version N]

Errors are one line on stderr with exit code 1 (sync_server/cli.py prints ShiftError).
`pack build` also runs the quiz quality checks (app/core/packs/quality.py): each finding is
a `warning: file:line [field]: message [rule …]` line on stderr; with `--strict` they are
`error:` lines and nothing is built (exit code 1).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.core.errors import PackError
from app.core.packs import (
    TrustedKeys,
    build_from_source,
    load_private_key,
    read_source,
    verify_pack,
)
from app.core.packs.quality import source_quality


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("pack", help="build or verify content packs")
    psub = p.add_subparsers(dest="pack_command", required=True)
    b = psub.add_parser("build", help="build and sign a pack from a source folder")
    b.add_argument("src_dir")
    b.add_argument("--key", required=True, help="private key file (from keygen)")
    b.add_argument("--out", required=True, help="output folder for <id>-<version>.pack")
    b.add_argument("--version", type=int, default=None,
                   help="publish as this version instead of pack.toml's (e.g. a roll back)")
    b.add_argument("--strict", action="store_true",
                   help="quiz quality findings are errors: print them and build nothing")
    b.set_defaults(func=run_build)
    v = psub.add_parser("verify", help="verify a built pack against trusted public keys")
    v.add_argument("packfile")
    v.add_argument("--trust", action="append", required=True,
                   help="trusted public key file (repeatable)")
    v.add_argument("--installed-version", type=int, default=None,
                   help="also refuse a version not above this one (rollback check)")
    v.set_defaults(func=run_verify)


def run_build(args: argparse.Namespace) -> int:
    key = load_private_key(Path(args.key))
    source = read_source(Path(args.src_dir))
    for warning in source.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    report = source_quality(source)
    label = "error" if args.strict else "warning"
    for finding in report.findings:
        print(f"{label}: {finding}", file=sys.stderr)
    if args.strict and not report.ok:
        raise PackError(f"{len(report.findings)} quiz quality problem(s); the pack was not "
                        "built (--strict)")
    try:
        path = build_from_source(source, key, Path(args.out), version=args.version)
    except OSError as exc:
        raise PackError(f"{exc.filename or args.out}: cannot write the pack "
                        f"({exc.strerror or exc})") from None
    print(path)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    trusted = TrustedKeys.from_files(args.trust)
    try:
        vp = verify_pack(Path(args.packfile), trusted, installed_version=args.installed_version)
    except OSError as exc:
        raise PackError(f"{args.packfile}: {exc.strerror or exc}") from None
    m = vp.manifest
    lessons = sum(len(c["lessons"]) for c in m["courses"])
    print(f"OK {vp.id} version {vp.version} (format {m['format']})")
    print(f"signed by key {vp.key_id}")
    print(f"languages: {', '.join(m['languages'])}; courses: {len(m['courses'])}; "
          f"lessons: {lessons}; profiles: {len(m['profiles'])}")
    print(f"files: {len(m['files'])}; blobs: {len(vp.blob_sizes)}; {vp.total_bytes} bytes")
    return 0
