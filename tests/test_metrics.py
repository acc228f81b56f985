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
    assert bus["no_facility"] and bus["within_30_share"] == 0 and bus["unreachable"] == 0


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
