"""Reading a registry file into rows of text and finding its header row.

In: a CSV/TXT path (encoding given or detected: UTF-8, UTF-8 with BOM, GBK, GB18030;
delimiter guessed) or an ``.xlsx`` path and sheet. Out: a :class:`_Sheet` of text rows
with their spreadsheet row numbers, and the header's position with each field's column.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..._errors import DataSourceError, ValidationError
from .columns import (
    _ENCODINGS,
    _EXCEL,
    _HEADER_SCAN,
    _REQUIRED,
    _TEXT,
    _cell_text,
    _clean,
    _header_key,
)

log = logging.getLogger(__package__)


@dataclass
class _Sheet:
    """Rows of a file as text, with their spreadsheet row numbers."""

    file: str
    rows: list[tuple[int, list[str]]]
    encoding: str


def _decode(raw: bytes, path: Path, encoding: str | None) -> tuple[str, str]:
    if encoding is not None:
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            msg = f"unknown encoding {encoding!r} for {path.name}; use e.g. 'utf-8', 'gbk' or 'gb18030'"
            raise ValidationError(msg) from None
        try:
            text = raw.decode(name)
        except UnicodeDecodeError as exc:
            msg = (
                f"{path.name} is not valid {encoding} (bad byte at offset {exc.start}); "
                "leave encoding=None to detect UTF-8/GBK/GB18030, or give the right encoding"
            )
            raise ValidationError(msg) from None
        return text.removeprefix("\ufeff"), name
    first_error = 0
    for name in _ENCODINGS:
        try:
            text = raw.decode(name)
        except UnicodeDecodeError as exc:
            first_error = first_error or exc.start
            continue
        if name == "utf-8" and text.startswith("\ufeff"):
            continue  # report it as UTF-8 with BOM
        return text.removeprefix("\ufeff"), name
    hint = ""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = " The file starts with a UTF-16 mark: pass encoding='utf-16'."
    msg = (
        f"cannot decode {path.name} as UTF-8, GBK or GB18030 (bad byte at offset {first_error}); "
        "in Excel use 'Save as → CSV UTF-8', or pass encoding=... if you know it." + hint
    )
    raise ValidationError(msg)


def _delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()][:5]
    sample = "\n".join(lines)
    counts = {d: sample.count(d) for d in (",", "\t", ";", "|")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _read_text(path: Path, encoding: str | None) -> _Sheet:
    text, used = _decode(path.read_bytes(), path, encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    rows = [(i, [_clean(c) for c in rec]) for i, rec in enumerate(reader, start=1)]
    return _Sheet(path.name, rows, used)


def _read_excel(path: Path, sheet: str | int | None) -> _Sheet:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - depends on the environment
        msg = f"reading {path.name} needs openpyxl: pip install openpyxl (or save the sheet as CSV)"
        raise DataSourceError(msg) from None
    try:
        book = openpyxl.load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:  # zip or XML errors of a damaged file
        msg = f"cannot open {path.name} as an Excel workbook ({exc}); re-save it as .xlsx or CSV"
        raise DataSourceError(msg) from None
    names = book.sheetnames
    if sheet is None:
        ws = book[names[0]]
    elif isinstance(sheet, int) and not isinstance(sheet, bool) and 0 <= sheet < len(names):
        ws = book[names[sheet]]
    elif isinstance(sheet, str) and sheet in names:
        ws = book[sheet]
    else:
        msg = f"{path.name} has no sheet {sheet!r}; its sheets are {names} (give a name or a 0-based index)"
        raise ValidationError(msg)
    rows = [
        (i, [_cell_text(v) for v in values])
        for i, values in enumerate(ws.iter_rows(min_row=1, values_only=True), start=1)
    ]
    book.close()
    return _Sheet(path.name, rows, "xlsx")


def _read_rows(path: Path | str, encoding: str | None, sheet: str | int | None) -> _Sheet:
    path = Path(path)
    if not path.is_file():
        msg = f"registry file not found: {path}; check the path (relative paths start at {Path.cwd()})"
        raise DataSourceError(msg)
    suffix = path.suffix.lower()
    if suffix in _EXCEL:
        if encoding is not None:
            log.info("encoding=%r ignored for the Excel file %s", encoding, path.name)
        return _read_excel(path, sheet)
    if suffix == ".xls":
        msg = f"{path.name} is an old-format Excel file; open it in Excel or WPS and save it as .xlsx or CSV"
        raise ValidationError(msg)
    if sheet is not None:
        msg = f"sheet={sheet!r} applies to Excel files only; {path.name} is a text file"
        raise ValidationError(msg)
    if suffix not in _TEXT:
        log.info("reading %s as CSV (unknown suffix %r)", path.name, suffix)
    return _read_text(path, encoding)


# --------------------------------------------------------------------------- columns


def _resolve(
    header: list[str],
    columns: Mapping[str, str] | None,
    defaults: Mapping[str, tuple[str, ...]],
) -> dict[str, int]:
    """Field → column index for one header row (fields not found are absent)."""
    keys = [_header_key(h) for h in header]
    found: dict[str, int] = {}
    if columns:
        for source, target in columns.items():
            key = _header_key(str(source))
            if key in keys:
                found[target] = keys.index(key)
    used = set(found.values())
    for fld, names in defaults.items():
        if fld in found:
            continue
        for name in names:
            if name in keys and keys.index(name) not in used:
                found[fld] = keys.index(name)
                used.add(found[fld])
                break
    return found


def _find_header(
    sheet: _Sheet,
    columns: Mapping[str, str] | None,
    defaults: Mapping[str, tuple[str, ...]],
) -> tuple[int, dict[str, int]]:
    """Position (in ``sheet.rows``) of the header and the column of each field."""
    if columns:
        unknown = sorted(set(columns.values()) - set(defaults))
        if unknown:
            msg = (
                f"columns maps to unknown fields {unknown}; the fields are "
                f"{', '.join(defaults)} (map the file's header to them, e.g. {{'学校名称': 'name'}})"
            )
            raise ValidationError(msg)
    nonempty = [i for i, (_, cells) in enumerate(sheet.rows) if any(cells)]
    if not nonempty:
        msg = f"{sheet.file} has no rows; expected a header row and one row per entry"
        raise ValidationError(msg)
    for pos in nonempty[:_HEADER_SCAN]:
        found = _resolve(sheet.rows[pos][1], columns, defaults)
        if all(f in found for f in _REQUIRED):
            return pos, found
    first = sheet.rows[nonempty[0]][1]
    found = _resolve(first, columns, defaults)
    missing = [f for f in _REQUIRED if f not in found]
    header = [h for h in first if h]
    expected = {f: defaults[f][:4] for f in missing}
    keys = {_header_key(h) for h in header}
    absent = [c for c in (columns or {}) if _header_key(str(c)) not in keys]
    msg = (
        f"{sheet.file}: no header row with the required columns; missing {missing} "
        f"(recognised headers include {expected}); columns found: {header}. "
        + (f"The columns argument names headers not in the file: {absent}. " if absent else "")
        + "Pass columns={'<your header>': '<field>', ...} to say which column is which"
    )
    raise ValidationError(msg)
