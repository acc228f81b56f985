"""PBF blocks decoded and encoded with numba (accessibility.sources.pbf_blocks).

Checked against libosmium (through pyosmium), independently of the module:

* a file libosmium writes (dense nodes with metadata and user names, tags with
  non-ASCII text, negative coordinates, ways, relations with roles and every member
  type) is decoded, every object re-encoded, and libosmium reads back the same
  values;
* a block written here by a few lines of protobuf (non-default granularity, offsets
  and date granularity, a plain ``Node`` message) is decoded to what libosmium reads
  from the same bytes;
* damaged blocks raise :class:`ValueError`, never crash.
"""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from pathlib import Path

import numpy as np
import osmium
import pytest

from accessibility.sources import extract
from accessibility.sources import pbf_blocks as pb


def _time(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def _rows(path: Path) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for o in osmium.FileProcessor(str(path)):
        base: tuple[object, ...] = (
            o.type_str(),
            o.id,
            o.version,
            o.changeset,
            o.timestamp,
            o.uid,
            o.user,
            tuple(sorted((t.k, t.v) for t in o.tags)),
        )
        if o.is_node():
            base += (o.location.x, o.location.y)
        elif o.is_way():
            base += (tuple(n.ref for n in o.nodes),)
        else:
            base += (tuple((m.type, m.ref, m.role) for m in o.members),)
        rows.append(base)
    return rows


def _blocks(path: Path) -> list[pb.Block]:
    with open(path, "rb") as fh:
        data = fh.read()
    out = []
    pos = 0
    while pos < len(data):
        (hlen,) = struct.unpack(">I", data[pos : pos + 4])
        head = memoryview(data)[pos + 4 : pos + 4 + hlen]
        kind, size = b"", 0
        for number, a, b in extract._fields(head):
            if number == 1:
                kind = bytes(head[a:b])
            elif number == 3:
                size = a
        blob = data[pos + 4 + hlen : pos + 4 + hlen + size]
        if kind == b"OSMData":
            out.append(pb.decode(extract._unpack_blob(blob)))
        pos += 4 + hlen + size
    return out


def _header_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    (hlen,) = struct.unpack(">I", data[:4])
    head = memoryview(data)[4 : 4 + hlen]
    size = next(a for number, a, _ in extract._fields(head) if number == 3)
    return data[: 4 + hlen + size]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pbf") / "sample.osm.pbf"
    header = osmium.io.Header()
    header.set("sorting", "Type_then_ID")
    rng = np.random.default_rng(7)
    with osmium.SimpleWriter(str(path), header=header) as w:
        node_ids = np.sort(rng.choice(12_000_000_000, 20_000, replace=False)) + 1
        for k, nid in enumerate(node_ids.tolist()):
            tags = {"amenity": "school", "name": f"第{k}小学"} if k % 97 == 0 else {}
            w.add_node(
                osmium.osm.mutable.Node(
                    id=nid,
                    location=(-179.5 + (k % 3600) * 0.1, -89.0 + (k % 1780) * 0.1 + 1e-7),
                    tags=tags,
                    version=1 + k % 5,
                    changeset=1000 + k * 13,
                    timestamp=_time(1_300_000_000 + k * 61),
                    uid=k % 40,
                    user=f"用户{k % 40}" if k % 40 else "",
                )
            )
        for k in range(3_000):
            refs = rng.choice(node_ids, 2 + k % 9).tolist()
            w.add_way(
                osmium.osm.mutable.Way(
                    id=1 + k * 4_001,
                    nodes=refs,
                    tags={"highway": "residential"} if k % 3 else {},
                    version=2,
                    changeset=7,
                    timestamp=_time(1_500_000_000 + k),
                    uid=3,
                    user="mapper",
                )
            )
        for k in range(50):
            members = [
                ("n", int(node_ids[k]), "stop"),
                ("w", 1 + k * 4_001, "outer"),
                ("r", 1 + (k + 1) * 11, ""),
            ]
            w.add_relation(
                osmium.osm.mutable.Relation(
                    id=1 + k * 11, members=members, tags={"type": "route"}, version=1
                )
            )
    return path


def test_decode_then_encode_gives_back_every_value(sample: Path, tmp_path: Path) -> None:
    blocks = _blocks(sample)
    assert len(blocks) > 2  # several blocks, of each kind
    big = pb.concat(blocks)
    assert np.bincount(big.kind, minlength=3).tolist() == [20_000, 3_000, 50]
    encoder = pb.Encoder(big)
    out = tmp_path / "copy.osm.pbf"
    with open(out, "wb") as fh:
        fh.write(_header_bytes(sample))
        for kind in (pb.NODE, pb.WAY, pb.RELATION):
            idx = np.flatnonzero(big.kind == kind)
            for a in range(0, idx.size, pb.MAX_ENTITIES):
                fh.write(pb.frame(encoder.encode(idx[a : a + pb.MAX_ENTITIES])))
    assert _rows(out) == _rows(sample)


def test_a_subset_keeps_its_own_strings(sample: Path, tmp_path: Path) -> None:
    big = pb.concat(_blocks(sample))
    pick = np.flatnonzero(big.kind == pb.NODE)[::97][:20]  # the tagged nodes
    out = tmp_path / "subset.osm.pbf"
    data = pb.Encoder(big).encode(pick)
    with open(out, "wb") as fh:
        fh.write(_header_bytes(sample))
        fh.write(pb.frame(data))
    want = [r for r in _rows(sample) if r[0] == "n"][::97][:20]
    assert _rows(out) == want
    # the block's string table holds only what the 20 nodes use (names, users, "")
    strings = pb.decode(data).strings
    assert len(strings) < 80
    assert len(strings) == len(set(strings))


# a few lines of protobuf, independent of the module, for hand-made blocks
def _varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while v >= 0x80:
        out.append(v & 0x7F | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _zz(v: int) -> int:
    return (v << 1) ^ (v >> 63)


def _f(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _packed(values: list[int], *, zigzag: bool = False, delta: bool = False) -> bytes:
    out, prev = b"", 0
    for v in values:
        d = v - prev if delta else v
        prev = v
        out += _varint(_zz(d) if zigzag else d)
    return out


def _hand_block() -> bytes:
    strings = [b"", b"name", "东站".encode(), b"u1"]
    table = b"".join(_f(1, s) for s in strings)
    ids, lats, lons = [5, 9, 40], [3_400_000, -120, 3_400_100], [11_400_000, 77, -5]
    dense = (
        _f(1, _packed(ids, zigzag=True, delta=True))
        + _f(
            5,
            _f(1, _packed([1, 2, 3]))
            + _f(2, _packed([2_000_000, 2_000_004, 2_000_004], zigzag=True, delta=True))
            + _f(3, _packed([10, 12, 11], zigzag=True, delta=True))
            + _f(4, _packed([0, 5, 5], zigzag=True, delta=True))
            + _f(5, _packed([0, 3, 3], zigzag=True, delta=True)),
        )
        + _f(8, _packed(lats, zigzag=True, delta=True))
        + _f(9, _packed(lons, zigzag=True, delta=True))
        + _f(10, _packed([0, 1, 2, 0, 0]))
    )
    plain = (
        _f(1, _zz(77))
        + _f(2, _packed([1]))
        + _f(3, _packed([2]))
        + _f(4, _f(1, 4) + _f(2, 2_100_000) + _f(3, 99) + _f(4, 5) + _f(5, 3))
        + _f(8, _zz(-3_333_333))
        + _f(9, _zz(1_234_567))
    )
    return (
        _f(1, table)
        + _f(2, _f(2, dense))
        + _f(2, _f(1, plain))
        + _f(17, 1000)  # granularity: 1 µdegree
        + _f(18, 500)  # date granularity: half seconds
        + _f(19, -123_456_789)  # lat offset, nanodegrees
        + _f(20, 987_654_321)
    )


def _file_of(block: bytes) -> bytes:
    head_block = _f(4, b"OsmSchema-V0.6") + _f(4, b"DenseNodes")
    out = b""
    for kind, body in ((b"OSMHeader", head_block), (b"OSMData", block)):
        blob = _f(2, len(body)) + _f(3, zlib.compress(body))
        head = _f(1, kind) + _f(3, len(blob))
        out += struct.pack(">I", len(head)) + head + blob
    return out


def test_hand_made_block_decodes_as_libosmium_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "hand.osm.pbf"
    block = _hand_block()
    path.write_bytes(_file_of(block))
    want = _rows(path)
    assert len(want) == 4 and want[-1][1] == 77  # libosmium read all four nodes
    got = pb.decode(block)
    rows = []
    for i in range(len(got)):
        tags = tuple(
            sorted(
                (
                    got.strings[got.keys[j]].decode(),
                    got.strings[got.vals[j]].decode(),
                )
                for j in range(got.tag_start[i], got.tag_start[i + 1])
            )
        )
        rows.append(
            (
                "n",
                int(got.ids[i]),
                int(got.version[i]),
                int(got.changeset[i]),
                int(got.timestamp[i]),
                int(got.uid[i]),
                got.strings[got.user[i]].decode(),
                tags,
                int(got.lon[i]),
                int(got.lat[i]),
            )
        )
    # pyosmium gives timestamps as datetimes: compare as seconds
    want = [(*r[:4], int(r[4].timestamp()), *r[5:]) for r in want]
    assert rows == want


@pytest.mark.parametrize("cut", [1, 7, 50, -3])
def test_damaged_block_raises_value_error(sample: Path, cut: int) -> None:
    with open(sample, "rb") as fh:
        data = fh.read()
    blocks = []
    pos = 0
    while pos < len(data):
        (hlen,) = struct.unpack(">I", data[pos : pos + 4])
        head = memoryview(data)[pos + 4 : pos + 4 + hlen]
        size = next(a for number, a, _ in extract._fields(head) if number == 3)
        blocks.append(extract._unpack_blob(data[pos + 4 + hlen : pos + 4 + hlen + size]))
        pos += 4 + hlen + size
    raw = bytes(blocks[1])
    with pytest.raises(ValueError):
        pb.decode(raw[:cut] if cut > 0 else raw[:cut] + b"\xff\xff\xff")
