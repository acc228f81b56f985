"""OSM PBF data blocks decoded to columns and encoded back, in compiled code.

Design
------
In:  the decompressed bytes of one ``PrimitiveBlock`` of an ``.osm.pbf`` file (as
     :func:`accessibility.sources.pbf_scan._unpack_blob` returns them).
Out: :class:`Block`, the block's nodes, ways and relations as numpy columns (ids,
     coordinates in libosmium's int 1e-7 degrees, metadata, tags and members as
     indices into the block's string table); and, the other way round,
     :func:`encode`, which writes a chosen subset of the objects of such columns
     as one new ``PrimitiveBlock`` (dense nodes, ways or relations), with its own
     string table.

Why: :mod:`accessibility.sources.clip_many` writes one file per unit of a province.
Through pyosmium every object would reach Python once per unit that keeps it
(≈ 4 µs each); here the protobuf fields are walked by numba-compiled loops
(``nogil``, so blocks are decoded and encoded on worker threads while ``zlib``
compresses others), and Python handles only whole blocks.

What is kept: ids, coordinates (converted as libosmium converts them: granularity
and offsets applied, truncated to 1e-7 degrees), version, timestamp (seconds),
changeset, uid, user name, tags, way nodes, relation members with roles. What is
not: the ``visible`` flag of history files and locations on ways (libosmium's
writer leaves them out by default too); a file whose header requires features other
than ``OsmSchema-V0.6`` and ``DenseNodes`` is refused by the callers (they fall back
to pyosmium). The output uses libosmium's defaults (granularity 100, no offsets,
date granularity 1000), so a clip written here reads back with the same values as
one written by libosmium.

Corrupt input: every read is bounds-checked and raises :class:`ValueError`.

Compilation: the first call in a fresh install compiles the loops (≈ 20 s on the
benchmark machine); numba caches them (``cache=True``: in ``__pycache__``, or in the
user's cache folder if that one cannot be written), so later processes load them.

Tests: ``tests/test_pbf_blocks.py`` (round trip against pyosmium on files written by
libosmium) and, through the clips, ``tests/test_clip_many.py``.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numba
import numpy as np

#: Objects per written block (libosmium's limit too).
MAX_ENTITIES = 8000
NODE, WAY, RELATION = 0, 1, 2


@dataclass
class Block:
    """The objects of one or more decoded blocks, as columns.

    ``kind`` is :data:`NODE`, :data:`WAY` or :data:`RELATION` per object; ``lon`` and
    ``lat`` are int 1e-7 degrees (0 for ways and relations); tags of object ``i`` are
    ``keys[tag_start[i]:tag_start[i + 1]]`` (likewise ``vals``), its members (way
    nodes, relation members) ``refs[mem_start[i]:mem_start[i + 1]]`` with
    ``types``/``roles``; string columns (``user``, ``keys``, ``vals``, ``roles``) index
    ``strings``, whose entry 0 is ``b""``.
    """

    kind: np.ndarray
    ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    version: np.ndarray
    timestamp: np.ndarray
    changeset: np.ndarray
    uid: np.ndarray
    user: np.ndarray
    has_info: np.ndarray
    tag_start: np.ndarray
    keys: np.ndarray
    vals: np.ndarray
    mem_start: np.ndarray
    refs: np.ndarray
    types: np.ndarray
    roles: np.ndarray
    strings: list[bytes]

    def __len__(self) -> int:
        return int(self.ids.size)


# ------------------------------------------------------------------ protobuf


_U7F = np.uint64(0x7F)
_U80 = np.uint64(0x80)


@numba.njit(cache=True, nogil=True)
def _get_varint(buf, pos, end):
    """(value as int64, next position); a varint running past ``end`` raises."""
    result = np.uint64(0)
    shift = np.uint64(0)
    while True:
        if pos >= end or shift > np.uint64(63):
            raise ValueError("truncated or overlong varint in PBF block")
        b = np.uint64(buf[pos])
        pos += 1
        result |= (b & _U7F) << shift
        if b < _U80:
            return np.int64(result), pos
        shift += np.uint64(7)


@numba.njit(cache=True, nogil=True)
def _unzigzag(v):
    u = np.uint64(v)
    return np.int64(u >> np.uint64(1)) ^ -np.int64(u & np.uint64(1))


@numba.njit(cache=True, nogil=True)
def _skip(buf, pos, end, wire):
    """Position after a field's value of wire type ``wire``, or raise."""
    if wire == 0:
        _, pos = _get_varint(buf, pos, end)
        return pos
    if wire == 1:
        pos += 8
    elif wire == 5:
        pos += 4
    elif wire == 2:
        length, pos = _get_varint(buf, pos, end)
        if length < 0:
            raise ValueError("negative length in PBF block")
        pos += length
    else:
        raise ValueError("unknown protobuf wire type in PBF block")
    if pos > end:
        raise ValueError("field runs past the end of its PBF message")
    return pos


@numba.njit(cache=True, nogil=True)
def _field(buf, pos, end):
    """(field number, wire type, value or start, end or -1, next position)."""
    key, pos = _get_varint(buf, pos, end)
    number = key >> 3
    wire = key & 7
    if wire == 0:
        value, pos = _get_varint(buf, pos, end)
        return number, wire, value, -1, pos
    if wire == 2:
        length, pos = _get_varint(buf, pos, end)
        if length < 0 or pos + length > end:
            raise ValueError("field runs past the end of its PBF message")
        return number, wire, pos, pos + length, pos + length
    return number, wire, 0, -1, _skip(buf, pos, end, wire)


@numba.njit(cache=True, nogil=True)
def _unpack(buf, a, b, out, at, mode):
    """Decode the packed varints in ``buf[a:b]`` into ``out[at:]``; return the count.

    mode 0: plain, 1: zigzag, 2: zigzag and delta-coded, 3: plain and delta-coded.
    """
    pos = a
    n = 0
    acc = np.int64(0)
    while pos < b:
        v, pos = _get_varint(buf, pos, b)
        if mode == 1 or mode == 2:
            v = _unzigzag(v)
        if mode >= 2:
            acc += v
            v = acc
        if at + n >= out.size:
            raise ValueError("more values than a PBF block can hold")
        out[at + n] = v
        n += 1
    return n


# ------------------------------------------------------------------ decode


@numba.njit(cache=True, nogil=True)
def _info(buf, a, b, e, version, timestamp, changeset, uid, user):
    pos = a
    while pos < b:
        number, wire, v, _, pos = _field(buf, pos, b)
        if wire != 0:
            continue
        if number == 1:
            version[e] = v
        elif number == 2:
            timestamp[e] = v
        elif number == 3:
            changeset[e] = v
        elif number == 4:
            uid[e] = np.int64(np.int32(v))
        elif number == 5:
            user[e] = v


@numba.njit(cache=True, nogil=True)
def _n_varints(buf, a, b):
    """Upper bound of the varints in ``buf[a:b]`` (bytes without the continuation bit)."""
    n = 0
    for i in range(a, b):
        if buf[i] < 0x80:
            n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _count(buf, groups_a, groups_b, n_groups, skip_nodes):
    """Upper bounds of the objects, tags, members and scratch values of a block."""
    ne = 0
    nt = 0
    nm = 0
    ns = 0
    for g in range(n_groups):
        pos = groups_a[g]
        gend = groups_b[g]
        while pos < gend:
            number, wire, a, b, pos = _field(buf, pos, gend)
            if wire != 2 or (skip_nodes and (number == 1 or number == 2)):
                continue
            if number == 2:
                p = a
                while p < b:
                    f, w, c, d, p = _field(buf, p, b)
                    if w != 2:
                        continue
                    if f == 1:
                        ne += _n_varints(buf, c, d)
                    elif f == 10:
                        k = _n_varints(buf, c, d)
                        nt += k
                        ns = max(ns, k)
            elif number == 1 or number == 3 or number == 4:
                ne += 1
                p = a
                while p < b:
                    f, w, c, d, p = _field(buf, p, b)
                    if w != 2:
                        continue
                    if f == 2:
                        nt += _n_varints(buf, c, d)
                    elif f == 9 or (f == 8 and number == 3):
                        nm += _n_varints(buf, c, d)
                    elif f == 10 and number == 4:
                        ns = max(ns, _n_varints(buf, c, d))
    return ne + 1, nt + 1, nm + 1, ns + 1


@numba.njit(cache=True, nogil=True)
def _decode(buf, skip_nodes):
    n = buf.size
    str_a = np.empty(n // 2 + 1, np.int64)
    str_b = np.empty(n // 2 + 1, np.int64)
    n_str = 0
    granularity = 100
    date_granularity = 1000
    lat_offset = 0
    lon_offset = 0
    groups_a = np.empty(n // 2 + 1, np.int64)
    groups_b = np.empty(n // 2 + 1, np.int64)
    n_groups = 0
    pos = 0
    while pos < n:
        number, wire, v, e, pos = _field(buf, pos, n)
        if number == 1 and wire == 2:
            p = v
            while p < e:
                num2, wire2, c, d, p = _field(buf, p, e)
                if num2 == 1 and wire2 == 2:
                    str_a[n_str] = c
                    str_b[n_str] = d
                    n_str += 1
        elif number == 2 and wire == 2:
            groups_a[n_groups] = v
            groups_b[n_groups] = e
            n_groups += 1
        elif number == 17 and wire == 0:
            granularity = v
        elif number == 18 and wire == 0:
            date_granularity = v
        elif number == 19 and wire == 0:
            lat_offset = v
        elif number == 20 and wire == 0:
            lon_offset = v

    cap, cap_tags, cap_mem, cap_scratch = _count(buf, groups_a, groups_b, n_groups, skip_nodes)
    kind = np.empty(cap, np.int8)
    ids = np.empty(cap, np.int64)
    lon = np.zeros(cap, np.int64)
    lat = np.zeros(cap, np.int64)
    version = np.zeros(cap, np.int64)
    timestamp = np.zeros(cap, np.int64)
    changeset = np.zeros(cap, np.int64)
    uid = np.zeros(cap, np.int64)
    user = np.zeros(cap, np.int64)
    has_info = np.zeros(cap, np.bool_)
    tag_start = np.zeros(cap + 1, np.int64)
    keys = np.empty(cap_tags, np.int64)
    vals = np.empty(cap_tags, np.int64)
    mem_start = np.zeros(cap + 1, np.int64)
    refs = np.empty(cap_mem, np.int64)
    types = np.zeros(cap_mem, np.int8)
    roles = np.zeros(cap_mem, np.int64)
    scratch = np.empty(cap_scratch, np.int64)
    ne = 0
    nt = 0
    nm = 0
    for g in range(n_groups):
        pos = groups_a[g]
        gend = groups_b[g]
        while pos < gend:
            number, wire, a, b, pos = _field(buf, pos, gend)
            if wire != 2:
                continue
            if number == 2 and skip_nodes:
                continue
            if number == 1 and skip_nodes:
                continue
            if number == 2:  # DenseNodes
                ids_r = (0, 0)
                lat_r = (0, 0)
                lon_r = (0, 0)
                kv_r = (0, 0)
                info_r = (0, 0)
                p = a
                while p < b:
                    f, w, c, d, p = _field(buf, p, b)
                    if w != 2:
                        continue
                    if f == 1:
                        ids_r = (c, d)
                    elif f == 5:
                        info_r = (c, d)
                    elif f == 8:
                        lat_r = (c, d)
                    elif f == 9:
                        lon_r = (c, d)
                    elif f == 10:
                        kv_r = (c, d)
                count = _unpack(buf, ids_r[0], ids_r[1], ids, ne, 2)
                if ne + count > lat.size:
                    raise ValueError("more objects than a PBF block can hold")
                if _unpack(buf, lat_r[0], lat_r[1], lat, ne, 2) != count:
                    raise ValueError("DenseNodes with columns of different lengths")
                if _unpack(buf, lon_r[0], lon_r[1], lon, ne, 2) != count:
                    raise ValueError("DenseNodes with columns of different lengths")
                if info_r[1] > info_r[0]:
                    p = info_r[0]
                    while p < info_r[1]:
                        f, w, c, d, p = _field(buf, p, info_r[1])
                        if w != 2:
                            continue
                        if f == 1:
                            got = _unpack(buf, c, d, version, ne, 0)
                        elif f == 2:
                            got = _unpack(buf, c, d, timestamp, ne, 2)
                        elif f == 3:
                            got = _unpack(buf, c, d, changeset, ne, 2)
                        elif f == 4:
                            got = _unpack(buf, c, d, uid, ne, 2)
                        elif f == 5:
                            got = _unpack(buf, c, d, user, ne, 2)
                        else:
                            continue
                        if got != count:
                            raise ValueError("DenseInfo with columns of different lengths")
                    for i in range(ne, ne + count):
                        has_info[i] = True
                nkv = _unpack(buf, kv_r[0], kv_r[1], scratch, 0, 0)
                j = 0
                for i in range(ne, ne + count):
                    kind[i] = 0
                    tag_start[i] = nt
                    mem_start[i] = nm
                    while j < nkv:
                        k = scratch[j]
                        j += 1
                        if k == 0:
                            break
                        if j >= nkv:
                            raise ValueError("DenseNodes keys_vals without a value")
                        if nt >= keys.size:
                            raise ValueError("more tags than a PBF block can hold")
                        keys[nt] = k
                        vals[nt] = scratch[j]
                        j += 1
                        nt += 1
                ne += count
            elif number == 1 or number == 3 or number == 4:  # Node, Way, Relation
                if ne >= cap:
                    raise ValueError("more objects than a PBF block can hold")
                keys_r = (0, 0)
                vals_r = (0, 0)
                info_r = (0, 0)
                m8 = (0, 0)
                m9 = (0, 0)
                m10 = (0, 0)
                oid = 0
                olat = 0
                olon = 0
                p = a
                while p < b:
                    f, w, c, d, p = _field(buf, p, b)
                    if w == 0:
                        if f == 1:
                            oid = c
                        elif f == 8:
                            olat = c
                        elif f == 9:
                            olon = c
                        continue
                    if w != 2:
                        continue
                    if f == 2:
                        keys_r = (c, d)
                    elif f == 3:
                        vals_r = (c, d)
                    elif f == 4:
                        info_r = (c, d)
                    elif f == 8:
                        m8 = (c, d)
                    elif f == 9:
                        m9 = (c, d)
                    elif f == 10:
                        m10 = (c, d)
                tag_start[ne] = nt
                mem_start[ne] = nm
                got = _unpack(buf, keys_r[0], keys_r[1], keys, nt, 0)
                if _unpack(buf, vals_r[0], vals_r[1], vals, nt, 0) != got:
                    raise ValueError("object with different numbers of keys and values")
                nt += got
                if info_r[1] > info_r[0]:
                    _info(buf, info_r[0], info_r[1], ne, version, timestamp, changeset, uid, user)
                    has_info[ne] = True
                if number == 1:
                    kind[ne] = 0
                    ids[ne] = _unzigzag(oid)
                    lat[ne] = _unzigzag(olat)
                    lon[ne] = _unzigzag(olon)
                elif number == 3:
                    kind[ne] = 1
                    ids[ne] = oid
                    nm += _unpack(buf, m8[0], m8[1], refs, nm, 2)
                else:
                    kind[ne] = 2
                    ids[ne] = oid
                    got = _unpack(buf, m9[0], m9[1], refs, nm, 2)
                    if _unpack(buf, m8[0], m8[1], roles, nm, 0) != got:
                        raise ValueError("relation with different numbers of members and roles")
                    if _unpack(buf, m10[0], m10[1], scratch, 0, 0) != got:
                        raise ValueError("relation with different numbers of members and types")
                    for i in range(got):
                        t = scratch[i]
                        if t < 0 or t > 2:
                            raise ValueError("relation member of unknown type")
                        types[nm + i] = t
                    nm += got
                ne += 1
    tag_start[ne] = nt
    mem_start[ne] = nm
    # coordinates as libosmium converts them (C++ integer division truncates)
    for i in range(ne):
        if kind[i] == 0:
            y = lat[i] * granularity + lat_offset
            x = lon[i] * granularity + lon_offset
            lat[i] = y // 100 if y >= 0 else -((-y) // 100)
            lon[i] = x // 100 if x >= 0 else -((-x) // 100)
        timestamp[i] = timestamp[i] * date_granularity // 1000
    for i in range(nt):
        if keys[i] < 0 or keys[i] >= n_str or vals[i] < 0 or vals[i] >= n_str:
            raise ValueError("string index outside the block's string table")
    for i in range(ne):
        if user[i] < 0 or user[i] >= max(n_str, 1):
            raise ValueError("user string index outside the block's string table")
    for i in range(nm):
        if roles[i] < 0 or roles[i] >= max(n_str, 1):
            raise ValueError("role string index outside the block's string table")
    return (
        str_a[:n_str].copy(),
        str_b[:n_str].copy(),
        kind[:ne].copy(),
        ids[:ne].copy(),
        lon[:ne].copy(),
        lat[:ne].copy(),
        version[:ne].copy(),
        timestamp[:ne].copy(),
        changeset[:ne].copy(),
        uid[:ne].copy(),
        user[:ne].copy(),
        has_info[:ne].copy(),
        tag_start[: ne + 1].copy(),
        keys[:nt].copy(),
        vals[:nt].copy(),
        mem_start[: ne + 1].copy(),
        refs[:nm].copy(),
        types[:nm].copy(),
        roles[:nm].copy(),
    )


def decode(block: bytes | memoryview, skip_nodes: bool = False) -> Block:
    """Decode one decompressed ``PrimitiveBlock`` (its ways and relations only if
    ``skip_nodes``).

    Raises
    ------
    ValueError
        If the block is not valid protobuf or its columns disagree.
    """
    buf = np.frombuffer(block, np.uint8)
    (str_a, str_b, *cols) = _decode(buf, skip_nodes)
    raw = bytes(block)
    strings = [raw[a:b] for a, b in zip(str_a.tolist(), str_b.tolist())]
    if not strings:
        strings = [b""]
    return Block(*cols, strings=strings)


def concat(blocks: list[Block]) -> Block:
    """One :class:`Block` of several, string tables merged (equal strings once; entry 0 ``b""``)."""
    pool: dict[bytes, int] = {b"": 0}
    maps = []
    for b in blocks:
        maps.append(np.fromiter((pool.setdefault(s, len(pool)) for s in b.strings), np.int64))
    tag_base = np.cumsum([0] + [b.keys.size for b in blocks])
    mem_base = np.cumsum([0] + [b.refs.size for b in blocks])

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(b, name) for b in blocks])

    def remap(name: str) -> np.ndarray:
        return np.concatenate([m[getattr(b, name)] for m, b in zip(maps, blocks)])

    def starts(name: str, base: np.ndarray) -> np.ndarray:
        parts = [getattr(b, name)[:-1] + base[i] for i, b in enumerate(blocks)]
        return np.concatenate([*parts, np.asarray([base[-1]], np.int64)])

    return Block(
        kind=cat("kind"),
        ids=cat("ids"),
        lon=cat("lon"),
        lat=cat("lat"),
        version=cat("version"),
        timestamp=cat("timestamp"),
        changeset=cat("changeset"),
        uid=cat("uid"),
        user=remap("user"),
        has_info=cat("has_info"),
        tag_start=starts("tag_start", tag_base),
        keys=remap("keys"),
        vals=remap("vals"),
        mem_start=starts("mem_start", mem_base),
        refs=cat("refs"),
        types=cat("types"),
        roles=remap("roles"),
        strings=list(pool),
    )


# ------------------------------------------------------------------ encode


@numba.njit(cache=True, nogil=True)
def _put_varint(out, pos, v):
    u = np.uint64(v)
    while u >= _U80:
        out[pos] = np.uint8((u & _U7F) | _U80)
        pos += 1
        u >>= np.uint64(7)
    out[pos] = np.uint8(u)
    return pos + 1


@numba.njit(cache=True, nogil=True)
def _zigzag(v):
    return (np.int64(v) << 1) ^ (np.int64(v) >> 63)


@numba.njit(cache=True, nogil=True)
def _put_bytes(out, pos, number, src, a, b):
    """Field ``number`` (length-delimited) holding ``src[a:b]``."""
    pos = _put_varint(out, pos, number << 3 | 2)
    pos = _put_varint(out, pos, b - a)
    out[pos : pos + b - a] = src[a:b]
    return pos + b - a


@numba.njit(cache=True, nogil=True)
def _local(gid, local_of, used, n_used):
    """The output string index of pool string ``gid`` (assigned on first use)."""
    if gid == 0:
        return 0, n_used
    k = local_of[gid]
    if k < 0:
        k = n_used + 1
        local_of[gid] = k
        used[n_used] = gid
        n_used += 1
    return k, n_used


@numba.njit(cache=True, nogil=True)
def _encode(
    sel,
    kind,
    ids,
    lon,
    lat,
    version,
    timestamp,
    changeset,
    uid,
    user,
    has_info,
    tag_start,
    keys,
    vals,
    mem_start,
    refs,
    types,
    roles,
    pool,
    pool_start,
    local_of,
):
    n = sel.size
    n_tags = 0
    n_mem = 0
    any_info = False
    for i in range(n):
        e = sel[i]
        n_tags += tag_start[e + 1] - tag_start[e]
        n_mem += mem_start[e + 1] - mem_start[e]
        any_info = any_info or has_info[e]
    # generous: a varint takes at most 10 bytes, a field header at most 6
    bound = 256 + 200 * n + 24 * n_tags + 40 * n_mem
    group = np.empty(bound, np.uint8)
    tmp = np.empty(bound + 16, np.uint8)
    used = np.empty(n + 2 * n_tags + n_mem + 1, np.int64)
    n_used = 0
    g = 0
    k = kind[sel[0]] if n else 0
    if k == 0:  # DenseNodes, columns one after the other
        d = 0
        t = 0
        prev = np.int64(0)
        for i in range(n):
            t = _put_varint(tmp, t, _zigzag(ids[sel[i]] - prev))
            prev = ids[sel[i]]
        d = _put_varint(group, d, 1 << 3 | 2)
        d = _put_varint(group, d, t)
        group[d : d + t] = tmp[:t]
        d += t
        if any_info:
            info = np.empty(64 * n + 128, np.uint8)
            q = 0
            for f in range(1, 6):
                t = 0
                prev = np.int64(0)
                for i in range(n):
                    e = sel[i]
                    if f == 1:
                        t = _put_varint(tmp, t, version[e])
                        continue
                    if f == 2:
                        v = timestamp[e]
                    elif f == 3:
                        v = changeset[e]
                    elif f == 4:
                        v = uid[e]
                    else:
                        v, n_used = _local(user[e], local_of, used, n_used)
                    t = _put_varint(tmp, t, _zigzag(v - prev))
                    prev = v
                q = _put_varint(info, q, f << 3 | 2)
                q = _put_varint(info, q, t)
                info[q : q + t] = tmp[:t]
                q += t
            d = _put_bytes(group, d, 5, info, 0, q)
        for f in (8, 9):
            t = 0
            prev = np.int64(0)
            for i in range(n):
                v = lat[sel[i]] if f == 8 else lon[sel[i]]
                t = _put_varint(tmp, t, _zigzag(v - prev))
                prev = v
            d = _put_varint(group, d, f << 3 | 2)
            d = _put_varint(group, d, t)
            group[d : d + t] = tmp[:t]
            d += t
        if n_tags:
            t = 0
            for i in range(n):
                e = sel[i]
                for j in range(tag_start[e], tag_start[e + 1]):
                    v, n_used = _local(keys[j], local_of, used, n_used)
                    t = _put_varint(tmp, t, v)
                    v, n_used = _local(vals[j], local_of, used, n_used)
                    t = _put_varint(tmp, t, v)
                t = _put_varint(tmp, t, 0)
            d = _put_varint(group, d, 10 << 3 | 2)
            d = _put_varint(group, d, t)
            group[d : d + t] = tmp[:t]
            d += t
        g = _put_bytes(tmp, 0, 2, group, 0, d)
        group[:g] = tmp[:g]
    else:  # one Way or Relation message after the other
        msg = np.empty(bound, np.uint8)
        part = np.empty(bound, np.uint8)
        for i in range(n):
            e = sel[i]
            m = _put_varint(msg, 0, 1 << 3)
            m = _put_varint(msg, m, ids[e])
            for f in (2, 3):
                if tag_start[e + 1] > tag_start[e]:
                    t = 0
                    for j in range(tag_start[e], tag_start[e + 1]):
                        v, n_used = _local(keys[j] if f == 2 else vals[j], local_of, used, n_used)
                        t = _put_varint(part, t, v)
                    m = _put_bytes(msg, m, f, part, 0, t)
            if has_info[e]:
                t = _put_varint(part, 0, 1 << 3)
                t = _put_varint(part, t, version[e])
                t = _put_varint(part, t, 2 << 3)
                t = _put_varint(part, t, timestamp[e])
                t = _put_varint(part, t, 3 << 3)
                t = _put_varint(part, t, changeset[e])
                t = _put_varint(part, t, 4 << 3)
                t = _put_varint(part, t, uid[e])
                v, n_used = _local(user[e], local_of, used, n_used)
                t = _put_varint(part, t, 5 << 3)
                t = _put_varint(part, t, v)
                m = _put_bytes(msg, m, 4, part, 0, t)
            a = mem_start[e]
            b = mem_start[e + 1]
            if k == 1:
                if b > a:
                    t = 0
                    prev = np.int64(0)
                    for j in range(a, b):
                        t = _put_varint(part, t, _zigzag(refs[j] - prev))
                        prev = refs[j]
                    m = _put_bytes(msg, m, 8, part, 0, t)
            elif b > a:
                t = 0
                for j in range(a, b):
                    v, n_used = _local(roles[j], local_of, used, n_used)
                    t = _put_varint(part, t, v)
                m = _put_bytes(msg, m, 8, part, 0, t)
                t = 0
                prev = np.int64(0)
                for j in range(a, b):
                    t = _put_varint(part, t, _zigzag(refs[j] - prev))
                    prev = refs[j]
                m = _put_bytes(msg, m, 9, part, 0, t)
                t = 0
                for j in range(a, b):
                    t = _put_varint(part, t, types[j])
                m = _put_bytes(msg, m, 10, part, 0, t)
            g = _put_bytes(group, g, 3 if k == 1 else 4, msg, 0, m)
    # the string table: "" then the strings in order of first use
    size = 2
    for i in range(n_used):
        size += 10 + pool_start[used[i] + 1] - pool_start[used[i]]
    table = np.empty(size, np.uint8)
    s = _put_varint(table, 0, 1 << 3 | 2)
    s = _put_varint(table, s, 0)
    for i in range(n_used):
        s = _put_bytes(table, s, 1, pool, pool_start[used[i]], pool_start[used[i] + 1])
        local_of[used[i]] = -1
    out = np.empty(s + g + 32, np.uint8)
    o = _put_bytes(out, 0, 1, table, 0, s)
    o = _put_bytes(out, o, 2, group, 0, g)
    return out[:o].copy()


class Encoder:
    """Writes subsets of one :class:`Block`'s objects as new blocks (thread-safe per call)."""

    def __init__(self, block: Block) -> None:
        self.block = block
        lengths = np.fromiter((len(s) for s in block.strings), np.int64, len(block.strings))
        self.pool_start = np.zeros(lengths.size + 1, np.int64)
        np.cumsum(lengths, out=self.pool_start[1:])
        self.pool = np.frombuffer(b"".join(block.strings) or b"\0", np.uint8)

    def encode(self, sel: np.ndarray) -> bytes:
        """One uncompressed ``PrimitiveBlock`` of the objects ``sel`` (indices, one kind,
        at most :data:`MAX_ENTITIES`), in the given order."""
        b = self.block
        local_of = np.full(len(b.strings), -1, np.int64)
        return _encode(
            np.ascontiguousarray(sel, np.int64),
            b.kind,
            b.ids,
            b.lon,
            b.lat,
            b.version,
            b.timestamp,
            b.changeset,
            b.uid,
            b.user,
            b.has_info,
            b.tag_start,
            b.keys,
            b.vals,
            b.mem_start,
            b.refs,
            b.types,
            b.roles,
            self.pool,
            self.pool_start,
            local_of,
        ).tobytes()


def _pb_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def frame(block: bytes, level: int = 6) -> bytes:
    """A ``PrimitiveBlock`` as a file's ``OSMData`` blob: zlib-compressed, with its header."""
    data = zlib.compress(block, level)
    blob = b"\x10" + _pb_varint(len(block)) + b"\x1a" + _pb_varint(len(data)) + data
    header = b"\x0a\x07OSMData\x18" + _pb_varint(len(blob))
    return struct.pack(">I", len(header)) + header + blob
