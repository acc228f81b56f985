"""Time limits of any size in column names: written once, read back by every reader.

A limit becomes part of column names (``bus_n15``, ``within_15_pop_share``,
``beyond_30_share``); :func:`accessibility.engine.limit_text` writes it and every
reader parses what it wrote, so 1e9, 0.5, 2.5 and 0.001 minutes all round-trip.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accessibility import engine, equity, export, metrics
from accessibility.policies import services

LIMITS = [1e9, 0.5, 2.5, 1e-3, 15, 1e-7, 123456789.125]


@pytest.mark.parametrize("limit", LIMITS)
def test_limit_text_has_no_exponent_and_reads_back(limit: float) -> None:
    text = engine.limit_text(limit)
    assert "e" not in text.lower() and "+" not in text
    assert float(text) == limit
    assert engine.parse_share_column(engine.share_column("within", limit)) == (
        "within",
        text,
        False,
    )
    assert engine.parse_share_column(engine.share_column("beyond", limit, population=True)) == (
        "beyond",
        text,
        True,
    )


def test_limit_text_examples() -> None:
    assert [engine.limit_text(t) for t in (15, 15.0, 2.5, 1e9, 0.001)] == [
        "15",
        "15",
        "2.5",
        "1000000000",
        "0.001",
    ]
    assert engine.count_column("school_primary", 7.5) == "school_primary_n7.5"
    assert engine.parse_share_column("within_15_share_x") is None
    assert engine.parse_share_column("within_1e+09_share") is None


def _table() -> tuple[pd.DataFrame, pd.Series]:
    table = pd.DataFrame(
        {"bus_time_min": [0.0005, 2.0, 40.0, np.inf]},
        index=pd.Index(["a", "b", "c", "d"], name="id"),
    )
    pop = pd.Series({"a": 100.0, "b": 300.0, "c": 600.0, "d": 1000.0})
    return table, pop


def test_summary_and_key_figures_with_any_limits() -> None:
    table, pop = _table()
    summary = metrics.summary(table, pop, ["bus"], thresholds_min=[1e9, 0.5, 2.5, 1e-3])
    assert "within_1000000000_pop_share" in summary.columns
    assert "within_0.001_share" in summary.columns
    figures = {f["key"]: f for f in metrics.key_figures(summary)}
    # the largest limit is 1e9 minutes: every reachable village is within it
    assert figures["bus_coverage"]["value"] == pytest.approx(1000 / 2000)
    assert figures["bus_beyond"]["value"] == 1  # the unreachable one
    small = metrics.summary(table, pop, ["bus"], thresholds_min=[1e-3])
    assert {f["key"]: f["value"] for f in metrics.key_figures(small)}[
        "bus_coverage"
    ] == pytest.approx(100 / 2000)


def test_headers_of_any_limit() -> None:
    assert export.column_header("within_1000000000_pop_share", lang="en") == (
        export.column_header("within_15_pop_share", lang="en").replace("15", "1000000000")
    )
    assert export.column_header("bus_n0.001", lang="en") == "Bus stop: number within 0.001 min"


def test_equity_beyond_columns_and_their_headers() -> None:
    table, pop = _table()
    frame = table.assign(population=pop, township="t")
    out = equity.by_area(frame, time_col="bus_time_min", limits_min=[1e9, 2.5], total=False)
    assert {"beyond_1000000000_share", "beyond_2.5_pop_share"} <= set(out.columns)
    headers = services.excel_headers({"equity": out}, lang="en")
    assert "1000000000" in headers["beyond_1000000000_share"]
    assert "2.5" in headers["beyond_2.5_pop_share"]
