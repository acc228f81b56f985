"""Notes on skipped sections, and how they reach the key-figures file."""

from __future__ import annotations

import json

import pytest

from accessibility import export, report
from accessibility._errors import ValidationError


def test_notes_record_each_skip_once_in_both_languages() -> None:
    notes = report.Notes()
    assert not notes and len(notes) == 0 and notes.sheets() == {}
    notes.skip("road_links", "no_township_seats")
    notes.skip("road_links", "no_township_seats")  # said once
    notes.skip("tier", "no_tier_schools", tier=("高中", "High school"))
    assert len(notes) == 2
    assert (
        notes.texts("zh")[0].startswith("乡镇驻地道路连通：")
        and "township_seat" in notes.texts("zh")[0]
    )
    assert notes.texts("en")[1].startswith("High school: access, boarding and scenario: no school")
    table = notes.table("en")
    assert table["section"].tolist() == ["road_links", "tier"]
    assert list(notes.sheets()) == ["notes"]
    assert "⚠" in notes._repr_markdown_()
    with pytest.raises(ValidationError, match="placeholder 'tier'"):
        notes.skip("tier", "no_tier_schools")
    with pytest.raises(ValidationError, match="lang"):
        notes.texts("fr")


def test_warnings_and_statuses_in_the_figures_file(tmp_path) -> None:
    notes = report.Notes()
    notes.skip("road_links", "no_township_seats")
    figures = [
        export.figure("bus_coverage", 0.5, "percent", labels=("公交", "Bus")),
        export.figure(
            "reading_coverage", 0.0, "percent", labels=("阅读", "Reading"), status="no_data"
        ),
    ]
    assert figures[1]["value"] is None and figures[1]["status"] == "no_data"
    path = export.write_figures(tmp_path / "nb_figures.json", figures, warnings=notes)
    data = json.loads(path.read_text("utf-8"))
    assert data["warnings"] == list(notes)
    assert export.read_figures(path) == figures
    assert export.read_warnings(path) == list(notes)
    assert export.read_warnings(tmp_path / "none.json") == []
    # a file without warnings (as written before) still reads
    old = tmp_path / "old_figures.json"
    old.write_text(json.dumps({"figures": figures[:1]}), "utf-8")
    assert export.read_warnings(old) == [] and export.read_figures(old) == figures[:1]


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ({"status": "lost"}, "status 'lost'"),
        ({"status": "no_data", "value": 0.0}, "has status 'no_data' and a value"),
    ],
)
def test_bad_figure_status(item, match) -> None:
    base = {"key": "k", "label_zh": "甲", "label_en": "A", "value": None, "format": "percent"}
    with pytest.raises(ValidationError, match=match):
        export.check_figures([{**base, **item}])


def test_bad_warnings() -> None:
    with pytest.raises(ValidationError, match="warnings must be a list"):
        export.check_warnings("no seats")
    with pytest.raises(ValidationError, match="warning 0 must be"):
        export.check_warnings([{"section": "x", "zh": "", "en": "e"}])
