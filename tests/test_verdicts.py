"""Verdicts on the report's claims: each state, official counts, targets, rendering."""

from __future__ import annotations

import json
import re

import pytest

from accessibility import export, regions, verdicts
from accessibility._errors import ValidationError
from accessibility.verdicts import Measure

#: Facts of a tidy county: villages as origins, seats and a county seat, some facilities.
DATA = {
    "villages": True,
    "origins": 400,
    "origins_kind": "villages",
    "seats": 10,
    "county_seat": True,
    "counts": {
        "county_libraries": 1,
        "township_cultural_stations": 10,
        "village_cultural_centres": 300,
        "townships": 10,
    },
}


def test_every_claim_of_the_report_with_a_spatial_test_is_in_the_rules():
    keys = {c.key for c in verdicts.claims()}
    assert keys == {
        "reading_circle",
        "school_tiers",
        "boarding",
        "county_libraries",
        "township_cultural_stations",
        "village_cultural_centres",
        "county_medical_centres",
        "bus_every_village",
        "township_roads",
    }
    for c in verdicts.claims():
        assert c.statement["zh"] and c.statement["en"] and c.measure["zh"] and c.measure["en"]
        assert c.target_source in ("reported", "assumed")
    # the report's figures, cited
    assert verdicts.claim("township_roads").target == pytest.approx(0.961)
    assert verdicts.claim("bus_every_village").target == 1.0
    assert {c.notebook for c in verdicts.claims()} == {
        "reading_circle",
        "school_tiers",
        "facility_access",
        "services",
    }


def test_a_share_at_or_above_its_target_holds_and_below_is_not_met():
    above = verdicts.judge(Measure("bus_every_village", 1.0, facilities=300), data=DATA)
    below = verdicts.judge(Measure("bus_every_village", 0.865, facilities=300), data=DATA)
    roads = verdicts.judge(Measure("township_roads", 0.9), data=DATA)
    assert above.state == "holds" and above.target == 1.0
    assert below.state == "not_met" and below.value == pytest.approx(0.865) and not below.reasons
    assert roads.state == "not_met" and roads.target == pytest.approx(0.961)
    assert verdicts.judge(Measure("township_roads", 0.961), data=DATA).state == "holds"


def test_a_claim_two_stated_rules_disagree_on_is_cannot_tell():
    """Township roads: the default rule (town streets at the ends) and the strict rule
    (class roads only) on either side of 96.1 % cannot settle the claim."""
    strict = ("严格规则", "strict rule")
    split = verdicts.judge(Measure("township_roads", 1.0, alternatives=[(*strict, 0.5)]), data=DATA)
    assert split.state == "cannot_tell" and split.value == 1.0
    assert split.reasons[0]["zh"] == "结论取决于口径：实测 100.0%，按严格规则为 50.0%，目标 96.1%"
    assert "50.0% under the strict rule" in split.reasons[0]["en"]
    both_hold = verdicts.judge(
        Measure("township_roads", 1.0, alternatives=[(*strict, 0.97)]), data=DATA
    )
    assert both_hold.state == "holds" and not both_hold.reasons
    both_fail = verdicts.judge(
        Measure("township_roads", 0.9, alternatives=[(*strict, 0.0)]), data=DATA
    )
    assert both_fail.state == "not_met"
    at_target = verdicts.judge(
        Measure("township_roads", 0.961, alternatives=[(*strict, 0.96)]), data=DATA
    )
    assert at_target.state == "cannot_tell"


def test_no_facility_of_the_kind_is_cannot_tell_never_not_met():
    v = verdicts.judge(Measure("bus_every_village", 0.0, facilities=0), data=DATA)
    assert v.state == "cannot_tell"
    assert "没有该类设施" in v.reasons[0]["zh"]


def test_a_kind_far_below_its_official_count_is_cannot_tell_with_its_completeness():
    official = {"village_cultural_centres": 2441}
    data = {**DATA, "counts": {**DATA["counts"], "village_cultural_centres": 300}}
    v = verdicts.judge(
        Measure("village_cultural_centres", 0.3, facilities=300), data=data, official=official
    )
    assert v.state == "cannot_tell"
    assert (
        "300" in v.reasons[0]["zh"]
        and "2,441" in v.reasons[0]["zh"]
        and "12%" in v.reasons[0]["zh"]
    )
    (done,) = v.completeness
    assert (
        done["data"] == 300
        and done["official"] == 2441
        and done["share"] == pytest.approx(300 / 2441)
    )
    # nearly complete data settle the same claim
    data = {**DATA, "counts": {**DATA["counts"], "village_cultural_centres": 2400}}
    v = verdicts.judge(
        Measure("village_cultural_centres", 0.3, facilities=2400), data=data, official=official
    )
    assert v.state == "not_met"


def test_a_count_below_its_target_in_open_data_is_cannot_tell_not_not_met():
    v = verdicts.judge(
        Measure("county_libraries", 5.0, facilities=5), data=DATA, official={"county_libraries": 12}
    )
    assert v.state == "cannot_tell" and v.target == 12
    assert "开放数据未收录" in v.reasons[0]["zh"]
    ok = verdicts.judge(
        Measure("county_libraries", 12.0, facilities=12),
        data=DATA,
        official={"county_libraries": 12},
    )
    assert ok.state == "holds" and ok.sure == "medium"


def test_one_station_per_township_seat_is_the_default_target():
    v = verdicts.judge(Measure("township_cultural_stations", 10.0, facilities=10), data=DATA)
    assert v.target == 10 and v.state == "holds"
    none = verdicts.judge(
        Measure("township_cultural_stations", 3.0, facilities=3), data={**DATA, "seats": 0}
    )
    assert none.state == "cannot_tell" and any("乡镇驻地" in r["zh"] for r in none.reasons)


def test_claims_about_villages_cannot_be_told_from_grid_cells():
    data = {**DATA, "villages": False, "origins_kind": "grid"}
    v = verdicts.judge(Measure("bus_every_village", 0.5, facilities=300), data=data)
    assert v.state == "cannot_tell" and "grid" in v.reasons[0]["zh"]


def test_a_kind_mapped_too_sparsely_is_cannot_tell():
    v = verdicts.judge(
        Measure("bus_every_village", 0.05, facilities=12), data=DATA
    )  # 12 stops, 400 villages
    assert v.state == "cannot_tell" and "12" in v.reasons[0]["zh"]


def test_an_estimate_keeps_its_verdict_and_says_it_is_unsure():
    m = Measure("reading_circle", 0.82, facilities=40, estimate=("由用地推算", "from land use"))
    v = verdicts.judge(m, data=DATA)
    assert v.state == "not_met" and v.sure == "low"
    assert v.evidence[0] == {"zh": "估算：由用地推算", "en": "Estimate: from land use"}
    # a reason that says "estimate" itself is not prefixed twice
    said = verdicts.judge(
        Measure(
            "reading_circle", 0.82, facilities=40,
            estimate=("估算：居住用地推算", "estimate from residential land use"),
        ),
        data=DATA,
    )  # fmt: skip
    assert said.evidence[0] == {
        "zh": "估算：居住用地推算",
        "en": "Estimate from residential land use",
    }
    points = verdicts.judge(
        Measure("reading_circle", 0.82, facilities=40, facts={"population": False}), data=DATA
    )
    assert points.state == "cannot_tell"


def test_a_region_file_may_set_another_target():
    v = verdicts.judge(
        Measure("reading_circle", 0.82, facilities=40),
        data=DATA,
        overrides={"reading_circle": {"target": 0.8}},
    )
    assert v.state == "holds" and v.target == 0.8


def test_official_counts_of_the_region_are_not_applied_to_one_unit():
    region = regions.load("xuchang")
    assert verdicts.official_counts(region)["townships"] == 75
    assert verdicts.official_counts(region, region.units[0]) == {}
    samples = regions.load("samples")
    assert verdicts.official_counts(samples, samples.units[0])["village_cultural_centres"] == 400


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("official: {libraries: 12}", "unknown official count 'libraries'"),
        ("official: {townships: -1}", "must be a number"),
        ("claims: {reading_circle: {target: 0.9, limit: 10}}", "takes only target"),
        ("claims: {reading: {target: 0.9}}", "unknown claim 'reading'"),
    ],
)
def test_bad_official_counts_and_targets_are_refused(tmp_path, text, message):
    from accessibility.settings import settings

    settings.root = tmp_path
    folder = tmp_path / "regions"
    folder.mkdir()
    (folder / "x.yml").write_text(
        f"label_zh: 甲\nlabel_en: X\nsource: {{kind: sample}}\n{text}\n", encoding="utf-8"
    )
    with pytest.raises(ValidationError, match=re.escape(message)):
        regions.load("x")


def _three() -> list[verdicts.Verdict]:
    return [
        verdicts.judge(
            Measure("bus_every_village", 1.0, facilities=300),
            data=DATA,
            place={"zh": "甲县", "en": "A"},
        ),
        verdicts.judge(
            Measure(
                "bus_every_village", 0.8, facilities=300, worst=[("史寺村", "49 分钟", "49 min")]
            ),
            data=DATA,
            place={"zh": "甲县", "en": "A"},
        ),
        verdicts.judge(
            Measure("village_cultural_centres", 0.3, facilities=300),
            data=DATA,
            official={"village_cultural_centres": 2441},
            place={"zh": "甲县", "en": "A"},
        ),
    ]


def test_the_verdict_table_is_all_chinese_in_zh():
    frame = verdicts.table(_three(), lang="zh")
    assert list(frame.columns[:4]) == ["地区", "主张", "结论", "实测"]
    assert list(frame["结论"]) == ["成立", "不成立", "数据不足"]
    assert list(frame["实测"]) == ["100.0%", "80.0%", "30.0%"]
    assert frame.loc[1, "最差地点"] == "史寺村 49 分钟"
    for value in frame.to_numpy().ravel():
        words = re.findall(r"[A-Za-z_]{3,}", str(value))
        assert not words, (value, words)
    en = verdicts.table(_three(), lang="en")
    assert list(en["Verdict"]) == ["Holds", "Not met", "Cannot tell"]


def test_the_panel_names_every_claim_with_its_state():
    html = verdicts.panel_html(_three(), lang="zh")
    assert html.count('class="acc-verdict"') == 3
    for state, word in (("holds", "成立"), ("not_met", "不成立"), ("cannot_tell", "数据不足")):
        assert f'data-state="{state}"' in html and word in html
    assert "所有建制行政村通客车" in html and "史寺村" in html
    assert "本图不核验" in verdicts.panel_html([], lang="zh")


def test_the_conclusion_says_what_holds_what_not_and_what_cannot_be_told():
    text = verdicts.conclusion(_three(), lang="zh")
    assert text.startswith("### 结论 · 甲县")
    holds, not_met, cannot = (text.index(w) for w in ("**成立**", "**不成立**", "**数据不足"))
    assert holds < not_met < cannot
    assert "史寺村" in text and "2,441" in text
    hostile = verdicts.judge(
        Measure(
            "bus_every_village",
            0.8,
            facilities=300,
            worst=[("<img src=x onerror=f()>村", "9 分钟", "9 min")],
        ),
        data=DATA,
        place={"zh": "<script>x()</script>县", "en": "A"},
    )
    shown = verdicts.conclusion([hostile], lang="zh")
    assert "<img" not in shown and "<script" not in shown  # markup in names is text
    assert (
        "&lt;img src=x onerror=f()&gt;村" in shown and "&lt;script&gt;x()&lt;/script&gt;县" in shown
    )
    lines = verdicts.png_lines(_three(), lang="zh").splitlines()
    assert len(lines) == 3 and "不成立" in lines[1] and "80.0%" in lines[1]


def test_verdicts_round_trip_through_the_figures_file(tmp_path):
    said = _three()
    path = export.write_figures(tmp_path / "x_figures.json", [], verdicts=verdicts.to_records(said))
    back = verdicts.from_records(export.read_verdicts(path))
    assert [v.state for v in back] == ["holds", "not_met", "cannot_tell"]
    assert back[2].completeness[0]["official"] == 2441
    data = json.loads(path.read_text("utf-8"))
    assert data["verdicts"][1]["value"] == pytest.approx(0.8)
    with pytest.raises(ValidationError, match="state"):
        export.write_figures(tmp_path / "bad.json", [], verdicts=[{"claim": "x", "state": "maybe"}])


def test_the_index_page_has_a_verdict_column_per_claim_for_every_unit(tmp_path):
    from accessibility import index_page
    from accessibility.regions import Region, Unit

    region = Region(
        name="demo",
        label_zh="演示市",
        label_en="Demo",
        units=(Unit("1", "甲县"), Unit("2", "乙县")),
    )
    said = verdicts.to_records(_three()[1:])  # bus not met, village centres cannot tell
    runs = [
        {
            "unit": "1",
            "unit_name": "甲县",
            "notebook": "services",
            "status": "ok",
            "verdicts": said,
        },
        {
            "unit": "2",
            "unit_name": "乙县",
            "notebook": "services",
            "status": "failed",
            "verdicts": said,
        },
    ]
    page = index_page.render_index(region, runs, page_dir=tmp_path, root=tmp_path)
    table = page.split('<table id="verdicts">')[1].split("</table>")[0]
    # the unit, its runs' statuses, a column per claim
    assert table.count('<th scope="col"') == 2 + len(verdicts.claims())
    assert table.count('<th scope="col" data-type="num" data-claim=') == len(verdicts.claims())
    first, second = table.split('<tr data-unit="')[1:]
    assert 'data-claim="bus_every_village" data-state="not_met"' in first and "80.0%" in first
    assert 'data-state="cannot_tell"' in first and "2,441" in first  # the reason, as a tooltip
    assert first.count("未核验") == len(verdicts.claims()) - 2
    assert second.count("未核验") == len(verdicts.claims())  # a failed run says nothing
