"""Official lists (registries) of facilities and villages, from CSV or Excel files.

Design
------
In:  one file per list — ``.csv``/``.txt`` in UTF-8, UTF-8 with BOM, GBK or GB18030,
     or ``.xlsx`` — with a header row, a name and coordinates per row, in WGS-84,
     GCJ-02 (Amap/Tencent) or BD-09 (Baidu) as declared by the caller.
Out: :class:`RegistryResult` — the good rows as WGS-84 points (facilities in the
     schema of :func:`accessibility.classify.facilities`, villages in the schema of
     classified places) plus a **report** with one line per problem found, so that
     nothing disappears silently; and :func:`merge`, which matches registry
     facilities to OpenStreetMap facilities one to one.

Rows are checked one by one (see ``docs/registries.md`` for the user's view):

======================================================  ========  ===================
problem                                                 action    column in report
======================================================  ========  ===================
unknown kind, tier, group or settlement level           dropped   that column
coordinate missing (or 0)                               dropped   lon / lat column
coordinate not a decimal number                         dropped   lon / lat column
coordinate out of range (even when swapped)             dropped   lon / lat column
longitude and latitude swapped                          kept      lon / lat column
outside mainland China's bounding box (no boundary)     kept      lon / lat column
outside ``boundary``                                    dropped   lon / lat column
same name and within 1 m of an earlier row              dropped   name column
name missing                                            kept      name column
id missing or used by an earlier row (new id given)     kept      id column
beds, doctors, capacity, population not a number ≥ 0    kept      that column
more cells than header columns (unquoted comma?)        kept      (empty)
======================================================  ========  ===================

Kept rows carry their flags in ``note``. Row numbers are those a spreadsheet shows:
the header is the row it sits on (row 1 in a plain file) and the first data row
follows it. Title rows above the header (common in official Excel files) are
skipped: the header is the first of the first ten rows in which the required columns
are found.

Modules
-------
Each imports only the ones above it; the names are importable from here.

============  ======================================================================
module        holds
============  ======================================================================
columns       the headers accepted per field (:data:`FACILITY_COLUMNS`, …), the words
              for kinds, tiers and levels, header and cell normalisation
files         a CSV/Excel file to rows of text: encodings, delimiter, sheet, header row
rows          row checks (coordinates, numbers, boundary, duplicates, ids), the
              report, :class:`RegistryResult`
readers       :func:`read_facilities`, :func:`read_villages`
entries       the ``registries`` entries of a region file: :func:`check_entry`,
              :func:`check_file`
matching      :func:`normalise_name`, :func:`similarity`, :func:`merge` with OSM
============  ======================================================================

Tests: ``tests/test_registry.py`` (files under ``tests/data/registry/`` and built in
``tmp_path``).
"""

from __future__ import annotations

from .columns import FACILITY_COLUMNS, REPORT_COLUMNS, VILLAGE_COLUMNS
from .columns import _allowed_tiers as _allowed_tiers
from .entries import ENTRY_OPTIONS as ENTRY_OPTIONS
from .entries import READ_OPTIONS as READ_OPTIONS
from .entries import check_entry as check_entry
from .entries import check_file as check_file
from .matching import merge, normalise_name, similarity
from .readers import read_facilities, read_villages
from .rows import RegistryResult

__all__ = [
    "FACILITY_COLUMNS",
    "REPORT_COLUMNS",
    "VILLAGE_COLUMNS",
    "RegistryResult",
    "merge",
    "normalise_name",
    "read_facilities",
    "read_villages",
    "similarity",
]
