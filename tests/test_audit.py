"""The data-completeness audit on the sample county."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from accessibility import audit, dedup, pipeline
from accessibility.settings import settings


@pytest.fixture(scope="module")
def study_and_meta(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    settings.root = root
    try:
        study = pipeline.prepare("sample", mode="walk", progress=False)
    finally:
        settings.root = None
    meta = json.loads((root / "data" / "raw" / "sample" / "meta.json").read_text("utf-8"))
    return study, meta


def test_summary_counts_what_the_generator_made(study_and_meta) -> None:
    study, meta = study_and_meta
    s = audit.summary(study)
    assert s.loc["places_county_seat", "value"] == 1
    assert s.loc["places_township_seat", "value"] == meta["counts"]["township_seats"]
    assert s.loc["origins", "value"] == meta["counts"]["villages"]
    assert s.loc["origins_with_population", "share"] == 1.0
    assert (
        s.loc["origins_far_from_road", "value"]
        == int((study.origin_snap["flag"] == "far").sum())
        > 0
    )
    # the network shares add up and the sample's fragments are visible
    assert s.loc["network_km_kept", "share"] + s.loc[
        "network_km_dropped", "share"
    ] == pytest.approx(1.0)
    assert 0 < s.loc["network_km_dropped", "value"] < 0.05 * s.loc["network_km_kept", "value"]
    assert s.loc["facilities_ambiguous", "value"] == int(
        (study.facilities["confidence"] == "ambiguous").sum()
    )
    # road rules: counted from the snap tables and the network's meta
    for who, table in (("origins", study.origin_snap), ("facilities", study.facility_snap)):
        cut = int((table["flag"] == "road_cut_off").sum())
        assert s.loc[f"{who}_road_cut_off", "value"] == cut
    assert s.loc["road_ways_clipped", "value"] == study.network.meta["ways_clipped"]
    assert s.loc["road_segments_closed", "value"] == study.network.meta["access_denied_segments"]


def test_facility_counts_by_tier_and_source(study_and_meta) -> None:
    study, _ = study_and_meta
    c = audit.facility_counts(study)
    assert (c["registry"] == 0).all() and (c["both"] == 0).all()
    assert c.loc[("bus", "bus_stop"), "osm"] == int((study.facilities["kind"] == "bus").sum())
    # a nine-year school counts as primary and as middle
    primary = study.facilities["tiers"].str.split(";").apply(lambda t: "primary" in t)
    assert c.loc[("school", "primary"), "total"] == int(primary.sum())
    assert c.loc[("reading", "library"), "total"] >= 1
    assert np.all(c["total"] == c[["osm", "registry", "both"]].sum(axis=1))


def test_facility_counts_with_registry_sources(study_and_meta) -> None:
    study, _ = study_and_meta
    fac = study.facilities.copy()
    clinics = fac.index[fac["tiers"] == "village_clinic"][:3]
    fac.loc[clinics[:2], "source"] = "registry"
    fac["match"] = "osm_only"
    fac.loc[clinics[0], "match"] = "matched"
    fac.loc[clinics[1], "match"] = "registry_only"
    study2 = pipeline.Study(**{**vars(study), "facilities": fac})
    c = audit.facility_counts(study2)
    row = c.loc[("health", "village_clinic")]
    assert (row["both"], row["registry"]) == (1, 1)
    assert row["osm"] == int((fac["tiers"] == "village_clinic").sum()) - 2


def test_facilities_mapped_twice_are_counted_and_listed(study_and_meta) -> None:
    study, _ = study_and_meta
    # the sample county maps every facility once: nothing merged
    assert study.meta["facilities_merged"] == len(study.duplicates) == 0
    s = audit.summary(study)
    assert s.loc["facilities_merged", "value"] == 0
    assert list(audit.duplicates(study).columns) == list(dedup.COLUMNS)
    # a school given twice (its node and its grounds) is merged by the pipeline's step
    fac = study.facilities.copy()
    school = fac.index[fac["kind"] == "school"][0]
    area = fac.loc[[school]].rename(index={school: "w999999"}).assign(osm_type="way")
    both = pd.concat([fac.assign(osm_type="node"), area])
    kept, merged = dedup.merge(both, crs=study.crs)
    assert len(kept) == len(fac) and merged["dropped"].tolist() == ["w999999"]
    study2 = pipeline.Study(**{**vars(study), "facilities": kept, "duplicates": merged})
    s2 = audit.summary(study2)
    assert s2.loc["facilities_merged", "value"] == 1
    assert s2.loc["facilities_merged", "share"] == pytest.approx(1 / (len(fac) + 1))
    listed = audit.duplicates(study2)
    assert listed[["kept", "dropped", "kind", "distance_m"]].values.tolist() == [
        [school, "w999999", "school", 0.0]
    ]


def test_summary_states_how_far_the_population_holds(study_and_meta) -> None:
    import geopandas as gpd

    from accessibility import population

    study, _ = study_and_meta
    # the sample's raster (resolved when the study was prepared): counted, high confidence
    s = audit.summary(study)
    assert s.loc["population_source", "value"] == "raster"
    assert s.loc["population_confidence", "value"] == "high"
    pts = population.estimate(study)
    largest = pts["population"].max() / pts["population"].sum()
    assert s.loc["population_largest_point_share", "value"] == pytest.approx(largest, abs=1e-4)
    assert s.loc["population_fallback_share", "value"] == 0
    area_km2 = study.boundary.to_crs(study.crs).area.sum() / 1e6
    density = pts["population"].sum() / area_km2
    assert s.loc["population_area_density_low", "value"] == pytest.approx(density, rel=1e-3)
    # residents from land use only (as central Helsinki had): low confidence, said so
    centre = study.boundary.to_crs(study.crs).centroid.iloc[0]
    block = gpd.GeoDataFrame(geometry=[centre.buffer(100)], crs=study.crs).to_crs(4326)
    land = population.from_landuse(block, crs=study.crs)
    s = audit.summary(study, population=land)
    assert s.loc["population_fallback_share", "value"] == 1.0
    assert "BEYOND THE LIMIT" in s.loc["population_fallback_share", "note"]
    assert s.loc["population_confidence", "value"] == "low"
    assert "fallback_share" in s.loc["population_confidence", "note"]
    assert "population_source" not in audit.summary(study, population=None).index
    # a method that cannot run is stated, not raised
    s = audit.summary(study, population="landuse")
    assert s.loc["population_confidence", "value"] == "none"
    assert "no landuse=residential" in s.loc["population_confidence", "note"]
