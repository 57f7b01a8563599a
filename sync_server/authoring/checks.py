"""Checks while writing: a draft read by the pack builder (every error, with file, line
and field) and the quiz quality rules of its quizzes (warnings), as one report the
editors show next to the fields they concern (docs/authoring.md "Studio").

The builder is ``app.core.packs.read_source`` — the same code as
`python -m sync_server pack build` and a source upload — so the studio never says "fine"
about a draft the builder refuses. Paths are made relative to the draft folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.core.errors import PackError, PackSourceError, PackSourceErrors
from app.core.packs import read_source
from app.core.packs.quality import RULES, source_quality


@dataclass(frozen=True)
class Problem:
    """One finding: ``level`` "error" (blocks the build) or "warning" (quality rule)."""

    level: str
    path: str          # relative to the draft: "courses/c/quiz.toml", "" = the whole draft
    line: int | None
    field: str         # the TOML field path ("questions[1].options[0].text.en") or ""
    message: str
    rule: str = ""     # quality rule id (warnings)

    @property
    def where(self) -> str:
        out = self.path + (f":{self.line}" if self.line is not None else "")
        return out + (f" [{self.field}]" if self.field else "")

    def concerns(self, path: str, prefix: str = "") -> bool:
        """Whether this finding is about file `path` and, with `prefix`, that field or
        one inside it (``title`` covers ``title.lt``; ``questions[1]`` its options)."""
        if self.path != path:
            return False
        if not prefix:
            return True
        return self.field == prefix or self.field.startswith((prefix + ".", prefix + "["))


@dataclass
class Report:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)       # the builder's own warnings

    @property
    def ok(self) -> bool:
        return not self.errors

    def about(self, path: str, prefix: str = "") -> list[Problem]:
        return [p for p in [*self.errors, *self.warnings] if p.concerns(path, prefix)]

    def exactly(self, path: str, fields: list[str], rules: tuple[str, ...] = (),
                skip: tuple[str, ...] = ()) -> list[Problem]:
        """Findings about exactly these fields of `path` (not the ones inside them);
        `rules` keeps only those rules, `skip` leaves some out (shown elsewhere)."""
        return [p for p in [*self.errors, *self.warnings]
                if p.path == path and p.field in fields and (not rules or p.rule in rules)
                and p.rule not in skip]


def _rel(path: str | None, root: Path) -> str:
    if not path:
        return ""
    text = str(path)
    for base in (str(root) + "/", str(root)):
        if text.startswith(base):
            return text[len(base):]
    return text


def _message(exc: PackSourceError) -> str:
    text = str(exc)
    where = exc.path or ""
    if exc.line is not None:
        where += f":{exc.line}"
    if exc.field:
        where += f" [{exc.field}]" if where else f"[{exc.field}]"
    return text[len(where) + 2:] if where and text.startswith(where + ": ") else text


def check_source(src: Path) -> Report:
    """The builder's verdict on a draft folder, and the quality warnings when it reads."""
    report = Report()
    try:
        source = read_source(src)
    except PackSourceErrors as many:
        report.errors = [_problem(p, src) for p in many.problems]
        if many.total > len(many.problems):
            report.errors.append(Problem("error", "", None, "", f"… and "
                                         f"{many.total - len(many.problems)} more problems"))
        return report
    except PackSourceError as one:
        report.errors = [_problem(one, src)]
        return report
    except PackError as exc:
        report.errors = [Problem("error", "", None, "", str(exc).replace(str(src) + "/", ""))]
        return report
    report.notes = [n.replace(str(src) + "/", "") for n in source.warnings]
    for f in source_quality(source).findings:
        report.warnings.append(Problem("warning", _rel(f.path, src), f.line, f.field or "",
                                       f.message.replace(str(src) + "/", ""), f.rule))
    return report


def _problem(exc: PackSourceError, root: Path) -> Problem:
    return Problem("error", _rel(exc.path, root), exc.line, exc.field or "",
                   _message(exc).replace(str(root) + "/", ""))


__all__ = ["RULES", "Problem", "Report", "check_source"]
