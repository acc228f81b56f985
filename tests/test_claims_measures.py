"""What each policy measures for the report's claims, recounted by hand on the sample county."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from accessibility import pipeline, verdicts
from accessibility.policies import claims as measures
from accessibility.policies import reading_circle, school_tiers, services
from accessibility.settings import settings


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    saved = (settings.root, settings.progress)
    settings.root, settings.progress = tmp_path_factory.mktemp("claims_root"), False
    try:
        yield pipeline.prepare("sample", mode="walk", offline=True)
    finally:
        settings.root, settings.progress = saved


def _inside_count(study, kind: str, tier: str) -> int:
    """Facilities of ``kind`` serving ``tier`` inside the boundary, point by point."""
    area = study.boundary.to_crs(4326).union_all()
    fac = study.facilities.to_crs(4326)
    return sum(
        1
        for k, tiers, geom in zip(fac["kind"], fac["tiers"].fillna(""), fac.geometry, strict=True)
        if k == kind and tier in str(tiers).split(";") and shapely.contains(area, geom)
    )


def test_facts_count_what_lies_inside_the_unit(walk):
    data = verdicts.facts(walk)
    assert data["villages"] and data["origins"] == len(walk.origins)
    assert data["counts"]["village_cultural_centres"] == _inside_count(
        walk, "reading", "village_centre"
    )
    assert data["counts"]["county_libraries"] == _inside_count(walk, "reading", "library")
    area = walk.boundary.to_crs(4326).union_all()
    places = walk.places.to_crs(4326)
    seats = sum(
        1
        for lv, g in zip(places["level"], places.geometry, strict=True)
        if lv == "township_seat" and area.contains(g)
    )
    assert data["seats"] == seats == data["counts"]["townships"]
    assert data["county_seat"]


def test_culture_measures(walk):
    by = {m.claim: m for m in measures.culture(walk)}
    assert set(by) == {"county_libraries", "township_cultural_stations", "village_cultural_centres"}
    assert by["county_libraries"].value == _inside_count(walk, "reading", "library")
    assert by["township_cultural_stations"].value == _inside_count(
        walk, "reading", "cultural_station"
    )
    table = walk.access(["reading:village_centre"], thresholds_min=[10])
    times = table["reading_village_centre_time_min"].to_numpy(float)
    assert by["village_cultural_centres"].value == pytest.approx(np.mean(times <= 10))
    worst = by["village_cultural_centres"].worst
    slowest = table.assign(t=np.where(np.isinf(times), 1e12, times)).sort_values(
        "t", ascending=False
    )
    assert [w[0] for w in worst[:3]] == list(slowest["name"].iloc[:3])


def test_culture_needs_a_walk_study(walk, tmp_path):
    from accessibility._errors import ValidationError

    car = pipeline.prepare("sample", mode="car", offline=True)
    with pytest.raises(ValidationError, match="mode='walk'"):
        measures.culture(car)


def test_service_measures(walk):
    bus = services.bus_access(walk, limit_min=15)
    by = {m.claim: m for m in measures.services(walk, bus=bus)}
    served = bus.table["bus_time_min"].to_numpy(float) <= 15
    assert by["bus_every_village"].value == pytest.approx(served.mean())
    assert by["bus_every_village"].facilities == int(bus.summary["stops"].iloc[0])
    assert by["county_medical_centres"].value == _inside_count(walk, "health", "county_hospital")
    said = verdicts.judge_all(walk, by.values())
    assert {v.claim: v.state for v in said}["bus_every_village"] == (
        "holds" if served.all() else "not_met"
    )


def test_road_measure_states_both_rules(walk):
    links = services.road_links(walk.roads, walk.places, crs=walk.crs)
    (m,) = [x for x in measures.services(walk, roads=links) if x.claim == "township_roads"]
    t = links.table
    assert m.value == pytest.approx(t["connected"].mean())
    assert [alt for _, _, alt in m.alternatives] == pytest.approx([t["connected_strict"].mean()])
    assert m.evidence[0][1].startswith("Default rule") and m.evidence[1][1].startswith(
        "Strict rule"
    )
    assert f"{int(t['connected'].sum())} of {len(t)} township seats linked" in m.evidence[0][1]
    unlinked = t.loc[~t["connected"]]
    assert {name for name, _, _ in m.worst} == set(unlinked["name"])
    (v,) = [x for x in verdicts.judge_all(walk, [m])]
    default_holds = m.value >= 0.961 - 1e-9
    strict_holds = m.alternatives[0][2] >= 0.961 - 1e-9
    expected = (
        ("holds" if default_holds else "not_met")
        if default_holds == strict_holds
        else "cannot_tell"
    )
    assert v.state == expected


def test_school_measures(walk):
    rules = school_tiers.load_rules()
    access = school_tiers.access_by_tier("sample", None, rules, offline=True)
    checks = school_tiers.compliance(access.study_for(access.tiers[0]), rules)
    tiers, boarding = measures.school_tiers(checks, access)
    pairs = checks.by_tier
    judged = [
        c
        for c, r in zip(pairs["compliant"], pairs["reason"], strict=True)
        if r not in school_tiers.UNDECIDED_REASONS
    ]
    assert tiers.value == pytest.approx(sum(bool(c) for c in judged) / len(judged))
    assert {w[0] for w in tiers.worst} <= set(checks.exceptions["name"])
    b = access.boarding
    if len(b):
        has = b["boarding_school"].notna().to_numpy()
        kids = b["children"].to_numpy(float)
        assert boarding.value == pytest.approx(kids[has].sum() / kids.sum())
    else:
        assert boarding.value == 1.0


def test_reading_measure(walk):
    result = reading_circle.assess(walk, minutes=15, targets=[0.95])
    (m,) = measures.reading_circle(result)
    pop = result.population
    covered = pop.loc[pop["covered"], "population"].sum()
    assert m.value == pytest.approx(covered / pop["population"].sum())
    assert m.facilities == len(result.facilities)
    assert m.facts["population"] is (result.population_source != "points")
