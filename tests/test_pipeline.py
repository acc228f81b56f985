"""The sample county through the whole chain: region → OSM → network → snapping → engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from accessibility import classify, engine, metrics, pipeline
from accessibility._errors import DataSourceError, UnknownRegionError, ValidationError
from accessibility.settings import settings

GROUPS = ["school:primary", "school:middle", "school:high", "health", "reading", "bus"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("root")


@pytest.fixture(scope="module")
def study(root):
    settings.root = root
    try:
        return pipeline.prepare("sample", mode="walk", progress=False)
    finally:
        settings.root = None


def test_origins_are_the_villages_inside_the_boundary(study, root) -> None:
    meta = json.loads((root / "data" / "raw" / "sample" / "meta.json").read_text("utf-8"))
    assert study.meta["synthetic"] is True
    assert set(study.origins["level"]) == {"admin_village"}
    assert len(study.origins) == meta["counts"]["villages"]
    assert study.origins["population"].notna().all()


def test_crs_chosen_from_location(study) -> None:
    lon = study.boundary.iloc[0].centroid.x
    assert study.crs == ("EPSG:32649" if lon < 114 else "EPSG:32650")


def test_network_cached_and_reused(study, root) -> None:
    files = list((root / "data" / "processed" / "sample").glob("network_walk_*.npz"))
    assert len(files) == 1
    settings.root = root
    again = pipeline.prepare("sample", mode="walk", progress=False)
    np.testing.assert_array_equal(again.network.time_s, study.network.time_s)
    assert study.network.meta["nodes_dropped"] > 0  # the sample has disconnected fragments


def test_every_village_gets_a_time_per_group(study) -> None:
    table = engine.access(study.router, study.facilities, GROUPS, thresholds_min=[15, 30])
    assert len(table) == len(study.origins)
    for g in GROUPS:
        key = engine.group_key(g)
        t = table[f"{key}_time_min"]
        assert np.isfinite(t).all(), g  # one strongly connected network: everyone reaches something
        assert (
            t * 60 >= study.origin_snap["leg_s"] - 1e-9
        ).all()  # never less than the walk to the road
        assert (table[f"{key}_n15"] <= table[f"{key}_n30"]).all()
        assert ((table[f"{key}_n15"] > 0) == (t <= 15)).all()
    far = study.origin_snap["flag"] == "far"
    assert far.any()  # the sample has villages far from roads; they are kept and flagged
    assert (table.loc[far, "bus_flag"] == "far_from_road").all()


def test_study_access_is_a_geodataframe_keyed_by_origin(study) -> None:
    results = study.access(["bus"], thresholds_min=[15])
    assert results.crs.to_epsg() == 4326
    assert results.index.equals(study.origins.index)
    assert {"name", "population", "geometry", "bus_time_min", "bus_n15"} <= set(results.columns)


def test_village_with_its_own_clinic_is_close(study) -> None:
    table = engine.access(
        study.router, study.facilities, ["health:village_clinic"], thresholds_min=[15]
    )
    # a clinic named after the village lies within its streets
    names = study.facilities.loc[classify.select(study.facilities, "health:village_clinic"), "name"]
    own = study.origins["name"].map(lambda n: any(str(x).startswith(n) for x in names))
    assert own.sum() > 100
    assert table.loc[own[own].index, "health_village_clinic_time_min"].median() < 10


def test_empty_group_is_flagged_not_an_error(study) -> None:
    no_bus = study.facilities.loc[study.facilities["kind"] != "bus"]
    table = engine.access(study.router, no_bus, ["bus", "health"], thresholds_min=[15])
    assert (table["bus_flag"] == "no_facility").all()
    assert table["bus_time_min"].isna().all()
    summary = metrics.summary(
        table, study.origins["population"], ["bus", "health"], thresholds_min=[15]
    )
    assert summary.loc["bus", "no_facility"] and not summary.loc["health", "no_facility"]


def test_bad_arguments() -> None:
    with pytest.raises(UnknownRegionError, match="unknown region 'nowhere'"):
        pipeline.prepare("nowhere")
    with pytest.raises(ValidationError, match="unknown travel mode 'rocket'"):
        pipeline.prepare("sample", mode="rocket")
    with pytest.raises(ValidationError, match="unknown origin levels"):
        pipeline.prepare("sample", origin_levels=["castle"])


def test_registries_are_merged_into_facilities_and_origins(tmp_path) -> None:
    """A region with an official school list (GBK, GCJ-02) and an official village list."""
    from accessibility import audit, datum

    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "withreg.yml").write_text(
        "label_zh: 登记县\nlabel_en: Registry county\nsynthetic: true\n"
        "source: {kind: sample, seed: 2023}\nboundary: {file: boundary.geojson}\n"
        "registries:\n"
        "  facilities:\n    - {file: schools.csv, kind: school, datum: gcj02}\n"
        "  villages:\n    - {file: villages.csv}\n",
        encoding="utf-8",
    )
    base = pipeline.prepare("sample", mode="walk", progress=False)  # the same county, no registries
    primary = base.facilities.loc[classify.select(base.facilities, "school:primary")].iloc[:2]
    extra_lon, extra_lat = base.origins.geometry.iloc[0].x + 0.0005, base.origins.geometry.iloc[0].y
    lon = [*primary.geometry.x, extra_lon]
    lat = [*primary.geometry.y, extra_lat]
    glon, glat = datum.wgs84_to_gcj02(np.array(lon), np.array(lat))
    rows = ["名称,类型,经度,纬度"]
    rows += [
        f"{n},小学,{x:.7f},{y:.7f}"
        for n, x, y in zip([*primary["name"], "新建希望小学"], glon, glat)
    ]
    raw = tmp_path / "data" / "raw" / "withreg"
    raw.mkdir(parents=True)
    (raw / "schools.csv").write_bytes("\n".join(rows).encode("gbk"))
    villages = base.origins.iloc[:5]
    vrows = ["名称,人口,经度,纬度"] + [
        f"{n},{int(p)},{g.x:.7f},{g.y:.7f}"
        for n, p, g in zip(villages["name"], villages["population"], villages.geometry)
    ]
    (raw / "villages.csv").write_text("\n".join(vrows), encoding="utf-8")

    study = pipeline.prepare("withreg", mode="walk", progress=False)
    fac = study.facilities
    assert (fac["match"] == "matched").sum() == 2
    new = fac.loc[fac["name"] == "新建希望小学"]
    assert len(new) == 1 and new["match"].iloc[0] == "registry_only"
    assert new["tiers"].iloc[0] == "primary"
    assert len(fac) == len(base.facilities) + 1  # two matched in place, one added
    # the official village list replaces the mapped villages as origins
    assert sorted(study.origins["name"]) == sorted(villages["name"])
    assert study.meta["origins_kind"] == "villages"
    assert study.meta["origins_reason"] == "auto: villages from the village registry"
    assert study.meta["origins_population"] == "registry"
    counts = audit.facility_counts(study)
    assert counts.loc[("school", "primary"), "both"] == 2
    assert counts.loc[("school", "primary"), "registry"] == 1
    assert (study.processed_dir / "registry_matches_schools.csv").is_file()
    # the new school is on the network: the villages near it see it
    table = study.access(["school:primary"], thresholds_min=[15])
    assert np.isfinite(table["school_primary_time_min"]).all()


def test_speed_overrides_and_buildings(study, root) -> None:
    settings.root = root
    from accessibility import network

    speeds = network.mode_rules("walk")["speeds_kmh"]
    slow = pipeline.prepare(
        "sample", mode="walk", progress=False, speed_overrides={h: v / 2 for h, v in speeds.items()}
    )
    # half the walking speed on every road: network times double
    np.testing.assert_allclose(slow.network.time_s, 2 * study.network.time_s, rtol=1e-9)
    assert len(study.buildings) > 100 and study.buildings.crs.to_epsg() == 4326


def test_boundary_cache_depends_on_the_extract(tmp_path) -> None:
    """A boundary found in one extract is not reused when another extract is given."""
    from accessibility import regions
    from accessibility.sources import sample

    settings.root = tmp_path
    files = sample.generate(tmp_path / "gen", seed=2023)
    first = tmp_path / "a.osm"
    first.write_text(files.osm.read_text("utf-8"), "utf-8")
    second = tmp_path / "b.osm"
    second.write_text(files.osm.read_text("utf-8") + "\n<!-- another extract -->\n", "utf-8")
    region = regions.load("sample")
    query = {"name": "示例县", "admin_level": "6"}
    a = pipeline._osm_boundary(region, query, osm_file=first, offline=True)
    b = pipeline._osm_boundary(region, query, osm_file=second, offline=True)
    assert a.iloc[0].equals(b.iloc[0])
    assert len(list((region.processed_dir / "boundaries").glob("boundary_*.geojson"))) == 2
    again = pipeline._osm_boundary(region, query, osm_file=first, offline=True)
    assert again.iloc[0].equals(a.iloc[0])  # read back from the cache


def test_region_with_its_own_extract_and_the_single_unit(tmp_path) -> None:
    """A region whose source is a local file finds its boundary in that file, offline;
    the only unit of a region without unit boundaries is the region itself."""
    from accessibility import regions
    from accessibility.sources import sample

    settings.root = tmp_path
    raw = tmp_path / "data" / "raw" / "ownfile"
    sample.generate(raw, seed=2023)
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "ownfile.yml").write_text(
        "label_zh: 自带\nlabel_en: Own file\nsource: {kind: osm_file, path: sample.osm}\n"
        'boundary: {osm: {name: 示例县, admin_level: "6"}}\n'
        'units:\n  - {code: "1", name: 自带县}\n',
        encoding="utf-8",
    )
    region = regions.load("ownfile")
    study = pipeline.prepare(region, mode="walk", offline=True, progress=False)
    assert len(study.origins) > 300
    one = pipeline.prepare(region, unit="1", mode="walk", offline=True, progress=False)
    assert one.boundary.iloc[0].equals(study.boundary.iloc[0])


def test_repeated_village_ids_across_registries_are_refused(tmp_path) -> None:
    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "twovil.yml").write_text(
        "label_zh: 两表\nlabel_en: Two lists\nsynthetic: true\n"
        "source: {kind: sample, seed: 2023}\nboundary: {file: boundary.geojson}\n"
        "registries:\n  villages:\n    - {file: a.csv}\n    - {file: b.csv}\n",
        encoding="utf-8",
    )
    from accessibility.sources import sample

    raw = tmp_path / "data" / "raw" / "twovil"
    files = sample.generate(raw, seed=2023)
    import json

    w, s, e, n = json.loads(files.meta.read_text("utf-8"))["bbox"]
    x, y = (w + e) / 2, (s + n) / 2
    (raw / "a.csv").write_text(f"编码,名称,经度,纬度\n1,甲村,{x},{y}\n", encoding="utf-8")
    (raw / "b.csv").write_text(f"编码,名称,经度,纬度\n1,乙村,{x + 0.01},{y}\n", encoding="utf-8")
    with pytest.raises(
        ValidationError, match=r"village ids repeat across the village registries \(a.csv, b.csv\)"
    ):
        pipeline.prepare("twovil", mode="walk", progress=False)


def test_facility_ids_shared_by_two_registry_files_name_both_files(tmp_path) -> None:
    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "twofac.yml").write_text(
        "label_zh: 两表\nlabel_en: Two lists\nsynthetic: true\n"
        "source: {kind: sample, seed: 2023}\nboundary: {file: boundary.geojson}\n"
        "registries:\n  facilities:\n    - {file: schools.csv, kind: school}\n"
        "    - {file: clinics.csv, kind: health}\n",
        encoding="utf-8",
    )
    from accessibility.sources import sample

    raw = tmp_path / "data" / "raw" / "twofac"
    files = sample.generate(raw, seed=2023)
    import json

    w, s, e, n = json.loads(files.meta.read_text("utf-8"))["bbox"]
    x, y = (w + e) / 2, (s + n) / 2
    (raw / "schools.csv").write_text(
        f"编码,名称,类型,经度,纬度\n7,甲小学,小学,{x},{y}\n", encoding="utf-8"
    )
    (raw / "clinics.csv").write_text(
        f"编码,名称,类型,经度,纬度\n7,乙卫生室,卫生室,{x + 0.01},{y}\n", encoding="utf-8"
    )
    with pytest.raises(
        ValidationError,
        match=r"facility ids \['7'\] are used in two registry files, .*schools\.csv and "
        r".*clinics\.csv; give each file ids of its own",
    ) as info:
        pipeline.prepare("twofac", mode="walk", progress=False)
    assert "OSM" not in str(info.value)


@pytest.fixture(scope="module")
def samples_root(tmp_path_factory):
    """A project root where the built-in region ``samples`` (two generated counties) lives."""
    root = tmp_path_factory.mktemp("samples")
    settings.root = root
    try:
        folders = pipeline.generate_samples("samples")
    finally:
        settings.root = None
    return root, folders


def test_generate_samples_makes_every_generated_unit(samples_root) -> None:
    root, folders = samples_root
    raw = root / "data" / "raw" / "samples"
    assert folders == [raw / "999001", raw / "999002"]
    seeds = [json.loads((f / "meta.json").read_text("utf-8"))["seed"] for f in folders]
    assert seeds == [11, 12]
    assert (folders[0] / "sample.osm").read_bytes() != (folders[1] / "sample.osm").read_bytes()
    assert not (raw / "sample.osm").exists()  # no unit uses the region's own source
    settings.root = root
    stamp = (folders[0] / "sample.osm").stat().st_mtime_ns
    assert pipeline.generate_samples("samples", regenerate=False) == folders
    assert (folders[0] / "sample.osm").stat().st_mtime_ns == stamp  # up to date: not rewritten


def test_units_with_their_own_sample_county(samples_root) -> None:
    import geopandas as gpd

    root, folders = samples_root
    settings.root = root
    a = pipeline.prepare("samples", unit="999001", mode="walk", progress=False)
    b = pipeline.prepare("samples", unit="示例乙县", mode="walk", progress=False)
    for study, folder in ((a, folders[0]), (b, folders[1])):
        generated = gpd.read_file(folder / "boundary.geojson").geometry.iloc[0]
        assert study.boundary.iloc[0].equals(generated)  # the unit's own generated boundary
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
        assert len(study.origins) == meta["counts"]["villages"]
        assert study.processed_dir == root / "data" / "processed" / "samples" / study.unit.code
        assert len(list(study.processed_dir.glob("network_walk_*.npz"))) == 1
        assert (study.facilities["source"] == "sample").all()
        assert study.meta["synthetic"] and study.meta["unit"] == study.unit.code
        # a unit with its own data is a region of its own, not part of a split
        assert not study.split
        assert "bus_beyond_buffer" not in study.access(["bus"], thresholds_min=[15]).columns
    assert not a.boundary.iloc[0].equals(b.boundary.iloc[0])
    assert set(a.origins["name"]) != set(b.origins["name"])
    assert a.network.meta["source"] != b.network.meta["source"]
    with pytest.raises(ValidationError, match="prepare one unit at a time.*999001, 999002"):
        pipeline.prepare("samples", mode="walk", progress=False)


def test_unit_sources_read_their_own_folders(samples_root, tmp_path) -> None:
    """A generated unit with an explicit boundary file, and a unit reading a local
    extract, each from data/raw/<region>/<code>/."""
    import shutil

    _, folders = samples_root
    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "mixed.yml").write_text(
        "label_zh: 混合\nlabel_en: Mixed\nsynthetic: true\nsource: {kind: overpass}\n"
        "units:\n"
        '  - {code: "G", name: 生成县, source: {kind: sample, seed: 11}, boundary: {file: boundary.geojson}}\n'
        '  - {code: "F", name: 文件县, source: {kind: osm_file, path: county.osm}, boundary: {file: outline.geojson}}\n',
        encoding="utf-8",
    )
    raw = tmp_path / "data" / "raw" / "mixed"
    (raw / "F").mkdir(parents=True)
    shutil.copy(folders[1] / "sample.osm", raw / "F" / "county.osm")
    shutil.copy(folders[1] / "boundary.geojson", raw / "F" / "outline.geojson")
    g = pipeline.prepare("mixed", unit="G", mode="walk", offline=True, progress=False)
    f = pipeline.prepare("mixed", unit="F", mode="walk", offline=True, progress=False)
    assert json.loads((raw / "G" / "meta.json").read_text("utf-8"))["seed"] == 11
    assert not (raw / "sample.osm").exists()
    assert (
        len(g.origins)
        == json.loads((folders[0] / "meta.json").read_text("utf-8"))["counts"]["villages"]
    )
    assert (
        len(f.origins)
        == json.loads((folders[1] / "meta.json").read_text("utf-8"))["counts"]["villages"]
    )
    assert (f.facilities["source"] == "osm").all()
    assert f.meta["osm_source"] == str(raw / "F" / "county.osm")
    assert (g.facilities["source"] == "sample").all()
    assert pipeline.generate_samples("mixed") == [raw / "G"]
    (tmp_path / "regions" / "real.yml").write_text(
        "label_zh: 真\nlabel_en: Real\nsource: {kind: overpass}\n", encoding="utf-8"
    )
    with pytest.raises(ValidationError, match="'real' has no generated data"):
        pipeline.generate_samples("real")


def test_osm_file_is_dated_by_its_extract_not_its_copy(tmp_path) -> None:
    """load_osm dates --osm-file data by the extract's header, else by the newest object
    of what was read (a lower bound); the map's note says which."""
    import datetime as dt
    import os
    import types
    from importlib import resources

    import osmium
    import shapely

    from accessibility import regions

    settings.root = tmp_path
    src = Path(str(resources.files("pyrosm").joinpath("data", "test.osm.pbf")))
    box = osmium.FileProcessor(str(src), osmium.osm.NOTHING).header.box()
    clip = shapely.box(
        box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat
    )
    region = regions.load("sample")
    undated = tmp_path / "copy.osm.pbf"
    undated.write_bytes(src.read_bytes())
    os.utime(undated, (0, 1_700_000_000))
    data = pipeline.load_osm(region, clip, osm_file=undated)
    assert (data.source_date, data.source_date_kind) == ("2019-04-14", "newest_object")
    assert data.source_name == "copy.osm.pbf"
    from .test_dating import write_dated_copy

    dated = write_dated_copy(src, tmp_path / "dated.osm.pbf", "2025-02-03T04:05:06Z")
    data = pipeline.load_osm(region, clip, osm_file=dated)
    assert (data.source_date, data.source_date_kind) == ("2025-02-03", "header")
    # the note on maps says which kind of date it is
    for how, words in [("header", "(file header)"), ("newest_object", "at least this recent")]:
        fake = types.SimpleNamespace(
            region=types.SimpleNamespace(synthetic=False),
            meta={"osm_file_name": "x.osm.pbf", "osm_date": "2019-04-14", "osm_date_source": how},
        )
        note = pipeline.Study.data_note(fake, "en")  # type: ignore[arg-type]
        assert "x.osm.pbf, " in note and "2019-04-14" in note and words in note
        from accessibility.clock import CHINA_TZ

        today = dt.datetime.now(CHINA_TZ).date().isoformat()  # maps are dated in China Standard Time
        assert today in note  # the map's own date, apart
        zh = pipeline.Study.data_note(fake, "zh")  # type: ignore[arg-type]
        assert "2019-04-14" in zh and ("文件头" in zh) == (how == "header")
    # a file without any timestamp: the date is unknown, said so (never the copy time)
    fake = types.SimpleNamespace(
        region=types.SimpleNamespace(synthetic=False),
        meta={"osm_file_name": "x.osm", "osm_date": None, "osm_date_source": None},
    )
    note = pipeline.Study.data_note(fake, "en")  # type: ignore[arg-type]
    assert "(x.osm, data date unknown (no timestamps in the file))" in note


def test_a_boundary_cut_by_the_extract_is_not_called_a_wrong_name(tmp_path) -> None:
    from accessibility import regions

    settings.root = tmp_path
    path = Path(__file__).parent / "data" / "extract" / "cut_boundary.osm"
    region = regions.load("sample")
    with pytest.raises(
        DataSourceError, match=r"relation 7 缺边县 .*2 of its 4 member ways are missing"
    ) as err:
        pipeline._osm_boundary(region, {"name": "缺边县"}, osm_file=path, offline=True)
    text = str(err.value)
    assert "check the name" not in text
    assert str(region.config_path) in text and "file: x.geojson" in text and "bbox" in text
    with pytest.raises(DataSourceError, match="no administrative boundary named"):
        pipeline._osm_boundary(region, {"name": "无此县"}, osm_file=path, offline=True)


def test_the_overpass_queries_of_each_unit_share_one_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """prepare opens a fresh total per call: a silent server stops each unit at it."""
    import time

    from accessibility._errors import ServerUnreachableError
    from accessibility.settings import OVERPASS_REGION_DEADLINE_ENV, OVERPASS_URL_ENV
    from accessibility.sources import overpass

    from .silent_server import Silent

    silent = Silent()
    monkeypatch.setenv(OVERPASS_URL_ENV, silent.url)
    monkeypatch.setenv(OVERPASS_REGION_DEADLINE_ENV, "0.6")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    settings.root = tmp_path
    (tmp_path / "regions").mkdir()
    (tmp_path / "regions" / "online.yml").write_text(
        "label_zh: 在线\nlabel_en: Online\nsource: {kind: overpass}\nunits:\n"
        '  - {code: "1", name: 西县}\n'  # the boundary is looked up on Overpass too
        '  - {code: "2", name: 东县, boundary: {bbox: [113.82, 34.00, 113.84, 34.02]}}\n',
        encoding="utf-8",
    )
    try:
        for unit, name in (("1", "西县"), ("2", "东县")):
            started = time.perf_counter()
            with pytest.raises(ServerUnreachableError) as info:
                pipeline.prepare("online", unit=unit, progress=False)
            seconds = time.perf_counter() - started
            message = str(info.value)
            assert message.startswith(
                f"Overpass download stopped: the queries for region online unit {unit} "
                f"({name}) used up their total of 0.6 s: "
            )
            assert "0 queries answered and 0 read from the cache" in message
            assert 0.5 < seconds < 0.6 + 5.0  # the total, not the query's 180 s
            assert overpass.budget._BUDGET.get() is None  # not carried over to the next unit
        # offline, or from a local extract, nothing is asked of Overpass
        with pytest.raises(DataSourceError, match="offline=True"):
            pipeline.prepare("online", unit="1", offline=True, progress=False)
    finally:
        silent.stop()


def test_a_population_estimate_is_made_once_per_study(root, monkeypatch) -> None:
    """Grid origins need the areal population; the audit and the analyses ask for the
    same estimate: made once, equal to one made afresh, redone for other tables."""
    import dataclasses

    import pandas as pd

    from accessibility import population

    settings.root = root
    try:
        grid = pipeline.prepare("sample", mode="walk", origins="grid", progress=False)
    finally:
        settings.root = None
    made = []
    real = population._estimate
    monkeypatch.setattr(population, "_estimate", lambda *a, **k: made.append(k) or real(*a, **k))
    kept = population.estimate(grid)  # the grid origins' estimate: not made again
    assert made == []
    fresh = real(grid, **{**population._ESTIMATE_DEFAULTS, "method": "auto"})
    pd.testing.assert_frame_equal(kept, fresh)
    assert kept.attrs == fresh.attrs
    # a copy each time: changing one does not change the next
    kept["population"] = 0.0
    assert population.estimate(grid)["population"].sum() == pytest.approx(fresh["population"].sum())
    # other options, or a study with other buildings: made afresh
    population.estimate(grid, persons_per_m2=0.05)
    assert len(made) == 1
    assert kept.attrs["population_source"] == "raster"  # the sample names a raster
    whole = population.estimate(grid, method="buildings")
    assert len(made) == 2
    fewer = dataclasses.replace(grid, buildings=grid.buildings.iloc[: len(grid.buildings) // 2])
    half = population.estimate(fewer, method="buildings")
    assert len(made) == 3 and len(half) < len(whole)
    assert len(population.estimate(grid, method="buildings")) == len(whole) and len(made) == 3
