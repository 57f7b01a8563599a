"""Learner CSV import: parse and check every row, report errors per row (never half-import
a bad row). Staff only — the file must not contain data about prisoners. Fields are checked
by the shared profile rules (app/core/profile_rules.py), the same as the tablets and the
server's API use; staff numbers are unique per facility.

Format (docs/admin-guide.md): a header row with ``staff_number, name, facility, role``
and optional ``language``; comma or semicolon separated (Excel in lt/ro locales writes
semicolons); UTF-8 with or without BOM.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from app.core import profile_rules
from app.core.errors import ProfileFieldError
from app.core.roles import ROLE_LABELS_EN

REQUIRED = ("staff_number", "name", "facility", "role")
OPTIONAL = ("language",)
ALIASES = {"display_name": "name", "facility_id": "facility", "staff_no": "staff_number"}
MAX_ROWS = 10_000
MAX_BYTES = 2 * 1024 * 1024
MAX_FIELD = 200


@dataclass(frozen=True)
class LearnerRow:
    line: int
    staff_number: str
    name: str
    facility_id: str
    role: str
    language: str


@dataclass(frozen=True)
class RowError:
    line: int            # 1 = the header
    field: str | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}" + (f" [{self.field}]" if self.field else "") + f": {self.message}"


def parse_learners_csv(data: bytes, *, facilities: set[str], default_language: str = "en"
                       ) -> tuple[list[LearnerRow], list[RowError]]:
    """Good rows and per-row errors. A row with any error is not in the good rows."""
    if len(data) > MAX_BYTES:
        return [], [RowError(0, None, f"file larger than {MAX_BYTES // 1024} KiB")]
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return [], [RowError(line, None, "not UTF-8 text (save the file as CSV UTF-8)")]
    if "\0" in text:
        return [], [RowError(0, None, "binary file, not CSV")]
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return [], [RowError(1, None, "empty file: expected a header row "
                             + ", ".join(REQUIRED))]
    except csv.Error as exc:
        return [], [RowError(1, None, f"unreadable header: {exc}")]
    columns = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in header]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        return [], [RowError(1, c, "column missing from the header") for c in missing]
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        return [], [RowError(1, c or "(empty)", "unknown column (allowed: "
                             + ", ".join(REQUIRED + OPTIONAL) + ")") for c in unknown]
    rows: list[LearnerRow] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    while True:
        line = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(line, None, f"unreadable row: {exc}"))
            break
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(RowError(line, None, f"more than {MAX_ROWS} rows; split the file"))
            break
        if len(record) != len(columns):
            errors.append(RowError(line, None, f"expected {len(columns)} fields, got {len(record)}"))
            continue
        values = {c: v.strip() for c, v in zip(columns, record, strict=True)}
        row_errors = _check(line, values, facilities)
        key = (values["facility"], profile_rules.staff_key(values["staff_number"]))
        if not row_errors and key in seen:
            row_errors.append(RowError(line, "staff_number",
                                       f"{values['staff_number']!r} repeats line {seen[key]}"))
        if row_errors:
            errors.extend(row_errors)
            continue
        seen[key] = line
        rows.append(LearnerRow(line, values["staff_number"], values["name"], values["facility"],
                               values["role"], values.get("language") or default_language))
    return rows, errors


#: A role may be given by its id or its English label, any case ("Prison officer").
_ROLE_BY_LABEL = {label.casefold(): role for role, label in ROLE_LABELS_EN.items()}


def role_from_cell(value: str, field: str) -> str:
    """A role id from a CSV cell holding the id or the label the console shows."""
    try:
        return profile_rules.role(_ROLE_BY_LABEL.get(" ".join(value.split()).casefold(),
                                                     value), field)
    except ProfileFieldError as exc:
        known = ", ".join(f"{label} ({role})" for role, label in ROLE_LABELS_EN.items())
        raise ProfileFieldError(field, exc.code, f"unknown role {value!r}; known: "
                                                 f"{known}") from None


_RULES = {"staff_number": profile_rules.staff_number, "name": profile_rules.display_name,
          "role": role_from_cell, "language": profile_rules.language}
#: The template the console offers (header + one example row).
TEMPLATE = ("staff_number,name,facility,role,language\r\n"
            "LT-0001,Example Person,{facility},Prison officer,en\r\n")


def _check(line: int, values: dict[str, str], facilities: set[str]) -> list[RowError]:
    """Check one row; `values` is cleaned in place (the shared rules normalise names and
    staff numbers)."""
    errors = []
    for column, value in values.items():
        if len(value) > MAX_FIELD:
            errors.append(RowError(line, column, f"longer than {MAX_FIELD} characters"))
        elif column in REQUIRED and not value:
            errors.append(RowError(line, column, "empty"))
        elif column not in _RULES and profile_rules.has_forbidden_characters(value):
            errors.append(RowError(line, column, "contains control or invisible characters"))
    if errors:
        return errors
    for column, check in _RULES.items():
        if values.get(column):
            try:
                values[column] = check(values[column], column)
            except ProfileFieldError as exc:
                errors.append(RowError(line, column, exc.detail))
    if values["facility"] not in facilities:
        errors.append(RowError(line, "facility", f"unknown facility {values['facility']!r}"))
    return errors


def csv_safe(value: object) -> str:
    """A cell for an exported CSV: text that a spreadsheet would run as a formula
    (=, +, -, @, tab, CR at the start) is prefixed with an apostrophe."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r" and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
