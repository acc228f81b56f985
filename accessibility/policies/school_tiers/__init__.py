"""School layout tiers: where schools sit, how far children travel, what consolidation does.

Design
------
The claim tested (Xuchang's consolidation tiers, 学校布局层级): high schools in the
county seat, middle schools in the county seat or larger townships, primary schools
in towns or large administrative villages; villages too far from their school are
candidates for township boarding schools (乡镇寄宿制学校).

In:  a :class:`~accessibility.pipeline.Study` (or its facilities and places), and the
     tier rules of ``accessibility/rules/tiers.yml`` (:func:`load_rules`, with
     overrides from the caller).
Out:
- :func:`settlement_of` — the settlement each school sits in, its level and size;
- :func:`compliance` — per school and tier served: allowed or an exception, and why;
- :func:`access_by_tier` — per village, travel time to the nearest school of each tier
  *by that tier's mode* and limit, and the boarding school for villages beyond it;
- :func:`consolidate` — a closure scenario on a built router (no rebuild, no re-snap):
  times before/after, reassigned villages, children affected, villages newly beyond
  the limit, optionally a capacity-aware assignment (:func:`assign_with_capacity`);
- :func:`add_layers` — the map overlays: schools by their verdict against the tier
  rule (:func:`school_states`), boarding candidates with their boarding school, and
  the scenario's closed schools and reassigned villages, each with its own legend.

A tier with no school in the data (e.g. an extract whose schools carry no tier) is
*no data*, not "every village beyond": its times are NaN, its villages are not
beyond, its shares are NaN with ``status`` ``no_data``, its key figures have no
value, and its boarding and scenario are skipped with a note
(:meth:`TierAccess.note_missing`, :func:`consolidate_or_skip`).

Units: distances in metres (in the study's metric CRS), times in minutes in tables
(seconds inside the engine), geometries of returned tables in EPSG:4326.
Tests: ``tests/test_school_tiers.py`` — hand-placed schools and places, a hand-built
network for a closure, the sample county, and the notebook end to end.

Modules
-------
=============  ===================================================================
``rules``      tier rules from ``rules/tiers.yml`` and overrides (:func:`load_rules`,
               the cached defaults), tier names, closure rules
``placement``  the settlement each school sits in and its tier check
               (:func:`settlement_of`, :func:`compliance`)
``access``     per-village travel time to each tier's school by the tier's mode,
               boarding candidates (:func:`access_by_tier`)
``scenario``   closures on a built router, capacity-aware placement
               (:func:`consolidate`)
``tables``     GeoPackage layers, the per-tier report, key figures, workbook sheets
``web_map``    the map overlays and their styles (:func:`add_layers`)
=============  ===================================================================

Each module imports only the ones above it; the public names are here.
"""

from __future__ import annotations

from .access import TierAccess, access_by_tier, tier_times
from .placement import Compliance, compliance, settlement_of
from .rules import (
    NONE,
    REASONS,
    SIZES,
    TIERS,
    UNKNOWN_TIER,
    Condition,
    SettlementRule,
    TierRule,
    TierRules,
    check_tier,
    check_tiers,
    load_rules,
    parse_close_rule,
)
from .scenario import (
    Scenario,
    assign_with_capacity,
    consolidate,
    consolidate_or_skip,
    scenario_summary,
    scenario_table,
)
from .tables import excel_headers, excel_tables, key_figures, layers, report
from .web_map import (
    ADDED_MIN_COLOURS,
    ADDED_MIN_LIMITS,
    BOARDING_COLOURS,
    BOARDING_LINK_COLOUR,
    BOARDING_SCHOOL_COLOUR,
    CLOSED_COLOUR,
    LOST_ACCESS_COLOUR,
    SCHOOL_STATES,
    STATE_STYLE,
    UNDECIDED_REASONS,
    add_layers,
    added_minutes_class,
    boarding_layer,
    compliance_layer,
    scenario_layer,
    school_states,
)

__all__ = [
    "ADDED_MIN_COLOURS",
    "ADDED_MIN_LIMITS",
    "BOARDING_COLOURS",
    "BOARDING_LINK_COLOUR",
    "BOARDING_SCHOOL_COLOUR",
    "CLOSED_COLOUR",
    "LOST_ACCESS_COLOUR",
    "NONE",
    "REASONS",
    "SCHOOL_STATES",
    "SIZES",
    "STATE_STYLE",
    "TIERS",
    "UNDECIDED_REASONS",
    "UNKNOWN_TIER",
    "Compliance",
    "Condition",
    "Scenario",
    "SettlementRule",
    "TierAccess",
    "TierRule",
    "TierRules",
    "access_by_tier",
    "add_layers",
    "added_minutes_class",
    "assign_with_capacity",
    "boarding_layer",
    "check_tier",
    "check_tiers",
    "compliance",
    "compliance_layer",
    "consolidate",
    "consolidate_or_skip",
    "excel_headers",
    "excel_tables",
    "key_figures",
    "layers",
    "load_rules",
    "parse_close_rule",
    "report",
    "scenario_layer",
    "scenario_summary",
    "scenario_table",
    "school_states",
    "settlement_of",
    "tier_times",
]
