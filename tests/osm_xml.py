"""Small hand-written OSM XML files for the road rules: nodes laid out in metres."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from xml.sax.saxutils import quoteattr

from .conftest import lonlat


def write_osm(
    path: Path,
    nodes: Mapping[int, tuple[float, float]],
    ways: Iterable[tuple[int, Sequence[int], Mapping[str, str]]],
    *,
    absent: Iterable[int] = (),
) -> Path:
    """Write an OSM XML file: ``nodes`` id → layout metres (see ``conftest.lonlat``),
    ``ways`` as ``(way id, node ids, tags)``; node ids in ``absent`` are referenced by
    ways but left out of the file, as at an extract's edge."""
    skip = set(absent)
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (x, y) in sorted(nodes.items()):
        if nid in skip:
            continue
        lon, lat = lonlat(x, y)
        lines.append(f'  <node id="{nid}" version="1" lat="{lat:.9f}" lon="{lon:.9f}"/>')
    for wid, refs, tags in sorted(ways, key=lambda w: w[0]):
        lines.append(f'  <way id="{wid}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
