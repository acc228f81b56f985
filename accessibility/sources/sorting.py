"""Putting an OSM file in the order readers expect: nodes, then ways, then relations, each by id.

Design
------
In:  an OSM file whose objects are out of order (some tools and hand-made extracts
     write them so; libosmium's area assembly refuses such input with "… IDs out of
     order").
Out: a sorted copy (``.osm.pbf``) at the path the caller gives (:func:`accessibility.
     sources.osm.read` sorts into a temporary folder on each read that needs it, which
     is cheap for the clipped extracts and downloads it reads). Every attribute a
     reader of this package uses is kept: ids, locations, tags, way node lists,
     relation members, versions and timestamps (the data date may come from the
     newest object).
How: the objects are read once into plain Python values (ids, coordinates, tag dicts)
     and written back by type and id. Memory grows with the file: meant for the
     clipped extracts and downloads this package reads, not for a whole province
     (cut it first: :mod:`accessibility.sources.extract`).
Tests: ``tests/test_osm.py`` — an unsorted hand-written file reads like its sorted twin;
     pyogrio's unsorted test extract in ``tests/test_real_osm.py``.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import osmium

log = logging.getLogger(__name__)


def is_order_error(exc: BaseException) -> bool:
    """Whether a reader's error says the file's objects are out of order."""
    return "out of order" in str(exc).lower()


def _common(obj: osmium.osm.OSMObject) -> dict[str, object]:
    return {
        "id": obj.id,
        "version": obj.version,
        "timestamp": obj.timestamp,
        "tags": {t.k: t.v for t in obj.tags},
    }


def sort_file(src: Path | str, dst: Path | str) -> Path:
    """Write the objects of ``src`` to ``dst`` sorted by type and id (atomically).

    Returns
    -------
    pathlib.Path
        ``dst``.
    """
    src, dst = Path(src), Path(dst)
    nodes, ways, relations = [], [], []
    for obj in osmium.FileProcessor(str(src)):
        if obj.is_node():
            loc = obj.location
            nodes.append(
                osmium.osm.mutable.Node(
                    **_common(obj), location=(loc.lon, loc.lat) if loc.valid() else None
                )
            )
        elif obj.is_way():
            ways.append(osmium.osm.mutable.Way(**_common(obj), nodes=[n.ref for n in obj.nodes]))
        elif obj.is_relation():
            members = [(m.type, m.ref, m.role) for m in obj.members]
            relations.append(osmium.osm.mutable.Relation(**_common(obj), members=members))
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, suffix=".osm.pbf")
    os.close(fd)
    os.unlink(tmp)  # the writer refuses an existing file
    try:
        with osmium.SimpleWriter(tmp) as writer:
            for n in sorted(nodes, key=lambda o: o.id):
                writer.add_node(n)
            for w in sorted(ways, key=lambda o: o.id):
                writer.add_way(w)
            for r in sorted(relations, key=lambda o: o.id):
                writer.add_relation(r)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info(
        "%s was out of order: sorted %d nodes, %d ways, %d relations into %s",
        src.name,
        len(nodes),
        len(ways),
        len(relations),
        dst,
    )
    return dst
