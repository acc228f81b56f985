"""The ``registries`` entries of a region file: their options, checked before anything is read.

In: one ``registries.facilities`` or ``registries.villages`` entry as read from YAML,
and later the file it names. Out: the entry with its datum normalised, or a
:class:`~accessibility._errors.ValidationError` naming the region file and the option.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ... import datum as _datum
from ..._errors import ValidationError
from ...classify import KINDS
from .columns import _EXCEL, FACILITY_COLUMNS, VILLAGE_COLUMNS
from .files import _decode

#: Options of a ``registries`` entry of a region file besides ``file``, per list:
#: those of :func:`read_facilities` / :func:`read_villages`, and for facilities
#: those of :func:`merge`.
ENTRY_OPTIONS: dict[str, tuple[str, ...]] = {
    "facilities": (
        "datum",
        "kind",
        "columns",
        "encoding",
        "sheet",
        "max_distance_m",
        "min_similarity",
    ),
    "villages": ("datum", "columns", "encoding", "sheet"),
}
#: The entry options that go to the readers.
READ_OPTIONS = ("datum", "kind", "columns", "encoding", "sheet")


def check_entry(entry: Any, *, what: str, where: str) -> dict[str, Any]:
    """Check one ``registries.facilities`` or ``registries.villages`` entry of a region file.

    Every option is checked for its type and allowed values before anything is
    read: ``datum`` (wgs84, gcj02, bd09), ``encoding`` (a codec Python knows),
    ``kind`` (a facility kind), ``columns`` (headers mapped to known fields),
    ``sheet`` (a name or a 0-based index, Excel files only), ``max_distance_m``
    (metres > 0) and ``min_similarity`` (0–1); unknown options are refused. Whether
    the file exists and decodes is checked by :func:`check_file`.

    Parameters
    ----------
    entry
        The entry as read from YAML, e.g. ``{file: schools.csv, datum: gcj02}``.
    what
        ``"facilities"`` or ``"villages"``.
    where
        What to name in messages (the region file).

    Returns
    -------
    dict
        The entry, with ``datum`` normalised (``GCJ-02`` → ``gcj02``).

    Raises
    ------
    ValidationError
        Naming the file, the entry, the option, the value and what is allowed.
    """
    if what not in ENTRY_OPTIONS:
        msg = f"{where}: registries take facilities and villages lists, not {what!r}"
        raise ValidationError(msg)
    example = "{file: schools.csv, datum: gcj02}"
    file = entry.get("file") if isinstance(entry, Mapping) else None
    if not isinstance(file, str) or not file:
        msg = f"{where}: every registries.{what} entry needs a file, e.g. {example}; got {entry!r}"
        raise ValidationError(msg)
    name = entry["file"]
    at = f"{where}: registries.{what} entry {name}"
    allowed = ENTRY_OPTIONS[what]
    unknown = sorted(set(entry) - {"file", *allowed})
    if unknown:
        msg = f"{at}: unknown option(s) {', '.join(map(repr, unknown))}; the options are {', '.join(allowed)}"
        raise ValidationError(msg)
    out = dict(entry)
    suffix = Path(name).suffix.lower()
    if suffix == ".xls":
        msg = f"{at}: {name} is an old-format Excel file; open it in Excel or WPS and save it as .xlsx or CSV"
        raise ValidationError(msg)
    if "datum" in entry:
        try:
            out["datum"] = _datum.check_datum(entry["datum"])
        except ValidationError as exc:
            raise ValidationError(f"{at}: {exc}") from None
    encoding = entry.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(encoding if isinstance(encoding, str) else "")
        except LookupError:
            msg = f"{at}: unknown encoding {encoding!r}; use e.g. utf-8, gbk or gb18030, or leave it out to detect them"
            raise ValidationError(msg) from None
    kind = entry.get("kind")
    if kind is not None and kind not in KINDS:
        msg = f"{at}: unknown kind {kind!r}; use one of {', '.join(KINDS)}"
        raise ValidationError(msg)
    columns = entry.get("columns")
    fields = FACILITY_COLUMNS if what == "facilities" else VILLAGE_COLUMNS
    if columns is not None and (
        not isinstance(columns, Mapping)
        or not all(isinstance(k, str) and v in fields for k, v in columns.items())
    ):
        msg = (
            f"{at}: columns must map the file's headers to fields ({', '.join(fields)}), "
            f"e.g. {{学校名称: name}}; got {columns!r}"
        )
        raise ValidationError(msg)
    sheet = entry.get("sheet")
    if sheet is not None:
        if isinstance(sheet, bool) or not (
            (isinstance(sheet, int) and sheet >= 0) or (isinstance(sheet, str) and sheet)
        ):
            msg = f"{at}: sheet must be a sheet name or a 0-based index, got {sheet!r}"
            raise ValidationError(msg)
        if suffix not in _EXCEL:
            msg = f"{at}: sheet applies to Excel files (.xlsx) only; remove it for {name}"
            raise ValidationError(msg)
    rules = {
        "max_distance_m": ("metres > 0, e.g. 300", lambda v: v > 0),
        "min_similarity": ("a number from 0 to 1, e.g. 0.5", lambda v: 0 <= v <= 1),
    }
    for option, (rule, ok) in rules.items():
        value = entry.get(option, 1)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or not ok(value):
            msg = f"{at}: {option} must be {rule}; got {value!r}"
            raise ValidationError(msg)
    return out


def check_file(path: Path, entry: Mapping[str, Any], *, where: str) -> None:
    """Check that an existing text registry file decodes with the entry's encoding.

    With no ``encoding`` the detection of :func:`read_facilities` is tried (UTF-8,
    UTF-8 with BOM, GBK, GB18030). Excel files and missing files are left to the
    reader (a missing file may be made by an earlier step).

    Raises
    ------
    ValidationError
        Naming the region file, the registry file and the encoding.
    """
    if not path.is_file() or path.suffix.lower() in _EXCEL:
        return
    try:
        _decode(path.read_bytes(), path, entry.get("encoding"))
    except ValidationError as exc:
        raise ValidationError(f"{where}: registry file {path}: {exc}") from None
