"""Coverage arithmetic on a hand-made access table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accessibility import metrics
from accessibility._errors import ValidationError


def test_summary_shares_and_population_weights() -> None:
    table = pd.DataFrame(
        {"school_primary_time_min": [5.0, 15.0, 20.0, np.inf], "bus_time_min": [np.nan] * 4},
        index=pd.Index(["a", "b", "c", "d"], name="id"),
    )
    pop = pd.Series({"a": 100.0, "b": 300.0, "c": 600.0, "d": np.nan})
    s = metrics.summary(table, pop, ["school:primary", "bus"], thresholds_min=[15, 30])
    row = s.loc["school:primary"]
    assert row["origins"] == 4 and row["unreachable"] == 1
    assert row["within_15_share"] == pytest.approx(0.5)  # 15 itself counts
    assert row["within_30_share"] == pytest.approx(0.75)
    assert row["within_15_pop_share"] == pytest.approx(400 / 1000)  # d has no population
    assert row["within_30_pop_share"] == pytest.approx(1.0)
    assert row["median_min"] == pytest.approx(15.0) and row["max_min"] == 20.0
    assert not row["no_facility"]
    bus = s.loc["bus"]
    assert bus["no_facility"] and bus["unreachable"] == 0
    # no facility in the data is "no data": no share at all, never 0 %
    assert np.isnan(bus["within_30_share"]) and np.isnan(bus["within_30_pop_share"])
    assert (bus["status"], row["status"]) == ("no_data", "ok")


def test_summary_bad_input() -> None:
    table = pd.DataFrame({"health_time_min": [1.0]})
    with pytest.raises(ValidationError, match="no column 'bus_time_min'"):
        metrics.summary(table, pd.Series([1.0]), ["bus"], thresholds_min=[15])
    with pytest.raises(ValidationError, match="> 0 minutes"):
        metrics.summary(table, pd.Series([1.0]), ["health"], thresholds_min=[0])


def test_summary_refuses_bad_populations() -> None:
    table = pd.DataFrame({"bus_time_min": [1.0, 2.0]}, index=pd.Index(["a", "b"], name="id"))
    with pytest.raises(ValidationError, match="finite and ≥ 0"):
        metrics.summary(table, pd.Series({"a": np.inf, "b": 1.0}), ["bus"], thresholds_min=[15])
    with pytest.raises(ValidationError, match="finite and ≥ 0"):
        metrics.summary(table, pd.Series({"a": -5.0, "b": 1.0}), ["bus"], thresholds_min=[15])
    with pytest.raises(ValidationError, match="shares no id"):
        metrics.summary(table, pd.Series([10.0, 20.0]), ["bus"], thresholds_min=[15])
    ok = metrics.summary(table, pd.Series({"a": np.nan, "b": 10.0}), ["bus"], thresholds_min=[15])
    assert ok.loc["bus", "within_15_pop_share"] == 1.0


def test_key_figures_match_the_summary() -> None:
    table = pd.DataFrame(
        {"school_primary_time_min": [5.0, 25.0, 40.0, np.inf], "bus_time_min": [np.nan] * 4},
        index=pd.Index(["a", "b", "c", "d"], name="id"),
    )
    pop = pd.Series({"a": 100.0, "b": 300.0, "c": 600.0, "d": 1000.0})
    s = metrics.summary(table, pop, ["school:primary", "bus"], thresholds_min=[15, 30])
    figures = {f["key"]: f for f in metrics.key_figures(s)}
    assert list(figures) == [
        "school_primary_coverage",
        "school_primary_beyond",
        "bus_coverage",
        "bus_beyond",
    ]
    # the largest threshold (30): a and b within, c slower, d unreachable
    within = table["school_primary_time_min"] <= 30
    assert figures["school_primary_coverage"]["value"] == pytest.approx(
        pop[within].sum() / pop.sum()
    )
    assert (
        figures["school_primary_coverage"]["value"]
        == s.loc["school:primary", "within_30_pop_share"]
    )
    assert figures["school_primary_beyond"]["value"] == int((~within).sum()) == 2
    assert figures["bus_coverage"]["value"] is None and figures["bus_beyond"]["value"] is None
    assert figures["bus_coverage"]["status"] == figures["bus_beyond"]["status"] == "no_data"
    assert "status" not in figures["school_primary_coverage"]
    assert figures["school_primary_coverage"]["format"] == "percent"
    assert figures["school_primary_beyond"]["format"] == "count"
    assert figures["school_primary_coverage"]["label_zh"] == "小学：30分钟内人口占比"
    assert figures["bus_beyond"]["label_en"] == "Bus stop: villages beyond 30 min"
    with pytest.raises(ValidationError, match="within_<T>_pop_share"):
        metrics.key_figures(s[["origins"]])


def test_no_data_and_none_reachable_are_told_apart() -> None:
    # health: facilities exist but no village reaches one (inf); bus: none in the data (NaN)
    table = pd.DataFrame(
        {"health_time_min": [np.inf] * 3, "bus_time_min": [np.nan] * 3},
        index=pd.Index(["a", "b", "c"], name="id"),
    )
    pop = pd.Series({"a": 10.0, "b": 20.0, "c": 30.0})
    s = metrics.summary(table, pop, ["health", "bus"], thresholds_min=[15])
    health, bus = s.loc["health"], s.loc["bus"]
    assert health["status"] == "none_reachable" and health["unreachable"] == 3
    assert health["within_15_share"] == 0.0 and health["within_15_pop_share"] == 0.0
    assert not health["no_facility"]
    assert bus["status"] == "no_data" and bus["unreachable"] == 0
    assert np.isnan(bus["within_15_pop_share"])
    figures = {f["key"]: f for f in metrics.key_figures(s)}
    assert figures["health_coverage"]["value"] == 0.0 and figures["health_beyond"]["value"] == 3
    assert "status" not in figures["health_coverage"]
    assert (
        figures["bus_coverage"]["value"] is None and figures["bus_coverage"]["status"] == "no_data"
    )


def test_groups_without_data_are_noted() -> None:
    from accessibility import report

    table = pd.DataFrame({"health_time_min": [np.inf, 3.0], "reading_time_min": [np.nan] * 2})
    s = metrics.summary(table, pd.Series([1.0, 2.0]), ["health", "reading"], thresholds_min=[15])
    notes = report.Notes()
    assert metrics.note_missing(s, notes) == ["reading"]
    assert notes.texts("zh") == ["阅读场所：无数据（数据中无此类设施），不计覆盖率"]


def test_figures_about_grid_cells_do_not_call_them_villages() -> None:
    from accessibility import metrics

    figures = [
        {
            "key": "a",
            "label_zh": "公交站：30分钟外村庄数",
            "label_en": "Bus stop: villages beyond 30 min",
            "value": 3,
            "format": "count",
        },
        {
            "key": "b",
            "label_zh": "步行 15 分钟内有公交站的行政村占比",
            "label_en": "Share of villages with a bus stop",
            "value": 0.5,
            "format": "percent",
        },
        {
            "key": "c",
            "label_zh": "步行15分钟内人口覆盖率",
            "label_en": "Residents within a 15-minute walk",
            "value": 0.5,
            "format": "percent",
        },
    ]
    assert metrics.name_origins(figures, "villages") == figures
    cells = metrics.name_origins(figures, "grid")
    assert [f["label_zh"] for f in cells] == [
        "公交站：30分钟外网格数",
        "步行 15 分钟内有公交站的网格占比",
        "步行15分钟内人口覆盖率",
    ]
    assert cells[0]["label_en"] == "Bus stop: grid cells beyond 30 min"
    assert [f["value"] for f in cells] == [3, 0.5, 0.5]


def test_figures_as_measured_mark_estimates_and_name_the_origins() -> None:
    from types import SimpleNamespace

    from accessibility import metrics

    figures = [
        {
            "key": "s",
            "label_zh": "公交站：30分钟内人口占比",
            "label_en": "Bus stop: population within 30 min",
            "value": 0.9,
            "format": "percent",
        },
        {
            "key": "b",
            "label_zh": "公交站：30分钟外村庄数",
            "label_en": "Bus stop: villages beyond 30 min",
            "value": 2,
            "format": "count",
        },
    ]
    study = SimpleNamespace(meta={"origins_population_estimate": "landuse", "origins_kind": "grid"})
    got = metrics.as_measured(figures, study)
    assert [f["label_zh"] for f in got] == [
        "公交站：30分钟内人口占比（估算：居住用地推算）",
        "公交站：30分钟外网格数",
    ]
    villages = SimpleNamespace(meta={"origins_population_estimate": "", "origins_kind": "villages"})
    assert metrics.as_measured(figures, villages) == figures
