"""A region analysed unit by unit: results within the exact horizon equal the whole-region ones.

The sample county is cut in two by a north–south line through its middle; each half is
a unit with its data up to ``buffer_m`` beyond its boundary. For every village of a
half, a time at most ``exact_within_s`` must equal the time of the unsplit analysis
(same nearest facility, or a tie), and a longer time must be an upper bound of it.
"""

from __future__ import annotations

import dataclasses
import logging

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from accessibility import network, pipeline, regions
from accessibility.settings import settings
from accessibility.sources import sample

from .conftest import TEST_CRS, lonlat, make_roads

GROUPS = ["school:primary", "school:middle", "health", "bus", "reading"]
BUFFER_M = 4000.0
TIME_TOL_S = 1e-6


#: A seed whose sample county has roads in its west half that reach the main network only
#: beyond the west half's buffered area (see the last test on the sample).
PLAIN_BREAKS_SEED = 2


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A project root with the region ``halves``: the sample county as two units."""
    return _halves(tmp_path_factory.mktemp("split"), sample.DEFAULT_SEED)


def _halves(root, seed: int):
    raw = root / "data" / "raw" / "halves"
    files = sample.generate(raw, seed=seed)
    county = gpd.read_file(files.boundary).geometry.iloc[0]
    w, s, e, n = county.bounds
    middle = (w + e) / 2
    west = county.intersection(shapely.box(w - 1, s - 1, middle, n + 1))
    east = county.intersection(shapely.box(middle, s - 1, e + 1, n + 1))
    for name, half in (("west", west), ("east", east)):
        gpd.GeoSeries([half], crs=4326).to_file(raw / f"{name}.geojson", driver="GeoJSON")
    (root / "regions").mkdir()
    (root / "regions" / "halves.yml").write_text(
        "label_zh: 示例县（两半）\nlabel_en: Sample County in halves\nsynthetic: true\n"
        f"source: {{kind: sample, seed: {seed}}}\n"
        f"boundary: {{file: boundary.geojson}}\nbuffer_m: {BUFFER_M:g}\n"
        "units:\n"
        '  - {code: "W", name: 西半县, name_en: West half, boundary: {file: west.geojson}}\n'
        '  - {code: "E", name: 东半县, name_en: East half, boundary: {file: east.geojson}}\n',
        encoding="utf-8",
    )
    settings.root = root
    try:
        region = regions.load("halves")
    finally:
        settings.root = None
    line = gpd.GeoSeries([shapely.LineString([(middle, s - 1), (middle, n + 1)])], crs=4326)
    return {"root": root, "region": region, "line": line}


def _results(
    root, region, mode: str, unit: str | None, *, crs: str | None = None
) -> tuple[pipeline.Study, pd.DataFrame]:
    settings.root = root
    study = pipeline.prepare(region, unit=unit, mode=mode, crs=crs, progress=False)
    # a threshold within every horizon tested here: no warning about counts
    return study, study.access(GROUPS, thresholds_min=[5])


@pytest.fixture(scope="module")
def whole(project):
    """The unsplit analyses, per mode."""
    try:
        return {m: _results(project["root"], project["region"], m, None) for m in ("walk", "ebike")}
    finally:
        settings.root = None  # set before the per-test settings are saved: do not leak it


def _compare(
    unit_study: pipeline.Study,
    unit_table: pd.DataFrame,
    whole_table: pd.DataFrame,
    *,
    horizon_s: float,
    line: gpd.GeoSeries,
    rel_tol: float = 0.0,
) -> dict[str, int]:
    """Count times checked within the horizon (all, and within 2 km of the split line),
    those differing from the whole region, and those below it (never allowed)."""
    crs = unit_study.crs
    near_line = unit_study.origins.to_crs(crs).distance(line.to_crs(crs).iloc[0]) <= 2000.0
    whole = whole_table.loc[unit_table.index]
    out = {"checked": 0, "checked_near_line": 0, "differ_within": 0, "below_whole": 0}
    for g in GROUPS:
        key = g.replace(":", "_")
        tu = unit_table[f"{key}_time_min"].to_numpy(float) * 60.0
        tw = whole[f"{key}_time_min"].to_numpy(float) * 60.0
        tol = TIME_TOL_S + rel_tol * np.nan_to_num(tw, posinf=0.0)
        within = tu <= horizon_s
        same_time = np.abs(tu - tw) <= tol
        fu = unit_table[f"{key}_facility"].to_numpy()
        fw = whole[f"{key}_facility"].to_numpy()
        out["checked"] += int(within.sum())
        out["checked_near_line"] += int((within & near_line.to_numpy()).sum())
        # the same time to the same facility (another one only in a tie)
        out["differ_within"] += int((within & ~(same_time & ((fu == fw) | (tol > 0)))).sum())
        out["below_whole"] += int((tu < tw - tol).sum())
    return out


@pytest.mark.parametrize("mode", ["walk", "ebike"])
def test_unit_results_within_the_exact_horizon_equal_the_whole_region(project, whole, mode) -> None:
    root, region = project["root"], project["region"]
    whole_study, whole_table = whole[mode]
    assert not whole_study.split
    assert not any(c.endswith("_beyond_buffer") for c in whole_table.columns)  # unchanged
    v_max = pipeline.max_speed_kmh(mode)
    expected = BUFFER_M * (1 - pipeline.EXACT_MARGIN) / (v_max / 3.6)
    totals = {"checked": 0, "checked_near_line": 0}
    seen = []
    for code in ("W", "E"):
        # in the CRS of the whole region: the halves lie in two UTM zones
        study, table = _results(root, region, mode, code, crs=whole_study.crs)
        assert study.split
        assert study.exact_within_s == pytest.approx(expected)
        assert study.meta["exact_within_min"] == pytest.approx(expected / 60)
        assert study.processed_dir == root / "data" / "processed" / "halves" / code
        found = _compare(
            study, table, whole_table, horizon_s=study.exact_within_s, line=project["line"]
        )
        assert found["differ_within"] == 0, found
        assert found["below_whole"] == 0, found  # beyond the horizon: an upper bound
        for g in GROUPS:
            key = g.replace(":", "_")
            beyond = ~(table[f"{key}_time_min"] * 60 <= study.exact_within_s)
            assert table[f"{key}_beyond_buffer"].dtype == bool
            assert (table[f"{key}_beyond_buffer"] == beyond).all()
        totals["checked"] += found["checked"]
        totals["checked_near_line"] += found["checked_near_line"]
        seen.append(table.index)
    # the halves share out the villages, and the check covers the border
    assert len(seen[0].intersection(seen[1])) == 0
    assert len(seen[0]) + len(seen[1]) == len(whole_table)
    assert totals["checked_near_line"] >= 10 * len(GROUPS), totals
    assert totals["checked"] >= 0.5 * len(whole_table) * len(GROUPS), totals


def test_a_unit_in_its_own_utm_zone_agrees_to_projection_accuracy(project, whole) -> None:
    """By default each unit is projected in the UTM zone of its centroid; snap legs then
    differ from the whole region's by the zones' scale factors (≪ 0.1 % of a time)."""
    whole_study, whole_table = whole["walk"]
    study, table = _results(project["root"], project["region"], "walk", "E")
    assert study.crs != whole_study.crs
    found = _compare(
        study,
        table,
        whole_table,
        horizon_s=study.exact_within_s,
        line=project["line"],
        rel_tol=1e-3,
    )
    assert found["differ_within"] == 0 and found["below_whole"] == 0, found
    assert found["checked_near_line"] >= 10, found


def test_without_a_buffer_border_results_differ(project, whole) -> None:
    """With no data beyond the boundary, times near the split line change: the comparison
    above is not vacuous."""
    root, region = project["root"], project["region"]
    whole_study, whole_table = whole["walk"]
    bare = dataclasses.replace(region, buffer_m=0.0)
    claimed = pipeline.exact_horizon_s(BUFFER_M, v_max_kmh=pipeline.max_speed_kmh("walk"))
    differ = 0
    for code in ("W", "E"):
        study, table = _results(root, bare, "walk", code, crs=whole_study.crs)
        assert study.exact_within_s == 0.0
        assert table[[f"{g.replace(':', '_')}_beyond_buffer" for g in GROUPS]].all().all()
        # claiming the horizon of the 4 km buffer for these results would be wrong
        found = _compare(study, table, whole_table, horizon_s=claimed, line=project["line"])
        differ += found["differ_within"]
    assert differ >= 3  # 9 of the sample county's village × group times


def test_the_plain_largest_component_breaks_border_results(tmp_path, monkeypatch) -> None:
    """Without the open boundary, the west half drops roads whose way back to the main
    network leaves its clip area; villages and facilities on them then snap to other roads
    and villages get times that differ from the whole region's, some *below* them, inside
    the exact horizon. (Seed-specific: the sample county of seed 2 has such roads in its
    west half, with 17 villages; on the county of the default seed the roads the plain
    component drops change no result.)"""
    project = _halves(tmp_path, PLAIN_BREAKS_SEED)
    try:
        whole_study, whole_table = _results(project["root"], project["region"], "walk", None)
    finally:
        settings.root = None

    def plain(roads, clip, **options):
        return network.load_or_build(roads, **options)

    monkeypatch.setattr(pipeline.assemble, "open_network", plain)
    study, table = _results(project["root"], project["region"], "walk", "W", crs=whole_study.crs)
    found = _compare(
        study, table, whole_table, horizon_s=study.exact_within_s, line=project["line"]
    )
    assert found["differ_within"] >= 1 and found["below_whole"] >= 1, found


def test_open_boundary_keeps_roads_whose_way_back_leaves_the_clip(tmp_path) -> None:
    """A one-way loop 4 → 5 → 6 ⇢ 7 → 1 whose part 6 ⇢ 7 lies outside the clip: the plain
    largest component drops 5, 6 and 7; the open network keeps them. A fragment (8–9)
    inside the clip is dropped by both."""
    coords = {
        1: (0, 0),
        2: (400, 0),
        3: (400, 400),
        4: (0, 400),
        5: (0, 900),
        6: (0, 1300),
        7: (-300, 1300),
        8: (200, 200),
        9: (250, 250),
    }
    roads = make_roads(
        coords,
        [
            ((1, 2, 3, 4, 1), "residential", 0),
            ((4, 5, 6), "unclassified", 1),
            ((6, 7), "unclassified", 1),
            ((7, 1), "unclassified", 1),
            ((8, 9), "service", 0),
        ],
    )
    corners = [lonlat(x, y) for x, y in ((-150, -100), (500, -100), (500, 1100), (-150, 1100))]
    clip = shapely.Polygon(corners)
    # what reading inside the clip keeps: segments with at least one end inside
    inside = pd.Series(
        shapely.contains_xy(clip, roads.nodes["lon"], roads.nodes["lat"]), index=roads.nodes.index
    )
    segs = roads.segments
    keep = inside.loc[segs["u"]].to_numpy() | inside.loc[segs["v"]].to_numpy()
    assert not keep[((segs["u"] == 6) & (segs["v"] == 7)).to_numpy()].any()  # 6 ⇢ 7 is outside
    clipped = network.RoadData(nodes=roads.nodes, segments=segs.loc[keep].reset_index(drop=True))

    plain = network.build(clipped, mode="ebike", crs=TEST_CRS)
    opened = pipeline.open_network(clipped, clip, mode="ebike", crs=TEST_CRS, cache_dir=tmp_path)
    assert sorted(plain.node_id) == [1, 2, 3, 4]
    assert sorted(opened.node_id) == [1, 2, 3, 4, 5, 6, 7]
    assert opened.meta["nodes_dropped"] == 2 and opened.meta["open_boundary_nodes"] == 2
    assert list(tmp_path.glob("network_ebike_*_open.npz"))
    again = pipeline.open_network(clipped, clip, mode="ebike", crs=TEST_CRS, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.time_s, opened.time_s)
    # walking ignores one-way streets: the loop is connected inside the clip anyway
    walk = network.build(clipped, mode="walk", crs=TEST_CRS)
    assert sorted(walk.node_id) == [1, 2, 3, 4, 5, 6, 7]


def test_a_threshold_beyond_the_horizon_is_warned_about(project, caplog) -> None:
    settings.root = project["root"]
    study = pipeline.prepare(project["region"], unit="W", mode="ebike", progress=False)
    horizon_min = study.exact_within_s / 60
    with caplog.at_level(logging.WARNING, logger="accessibility.pipeline"):
        study.access(["health"], thresholds_min=[5])
    assert not [r for r in caplog.records if "not exact" in r.getMessage()]
    with caplog.at_level(logging.WARNING, logger="accessibility.pipeline"):
        study.access(["health"], thresholds_min=[5, 30])
    text = " ".join(r.getMessage() for r in caplog.records)
    assert f"beyond {horizon_min:.1f} min are not exact" in text
    needed = pipeline.buffer_for(30 * 60, v_max_kmh=pipeline.max_speed_kmh("ebike"))
    assert needed == pytest.approx(30 * 60 * 22 / 3.6 / (1 - pipeline.EXACT_MARGIN))
    assert f"buffer_m ≥ {needed:.0f} m" in text
