"""The 15-minute reading circle (15分钟阅读圈): who is within a walk of a reading place, and where new ones would close the gap.

Design
------
In:  a prepared walking :class:`~accessibility.pipeline.Study`, the reading place
     groups to count (``"reading"`` or tiers such as ``"reading:study_room"``), a
     walk limit in minutes, and residents as population points
     (:mod:`accessibility.population`: building footprints in towns, else
     settlement figures, or a user file).
Out: an :class:`Assessment` holding

     - population-weighted coverage (formula below) and the absolute number of
       residents not covered;
     - the same per sub-area (the nearest settlement, or user polygons);
     - isochrone polygons built from the reached streets
       (:func:`accessibility.isochrones.polygons`);
     - uncovered residence points and uncovered residential areas;
     - the gap-closing plan per target share: new sites chosen greedily and, when
       the model is small enough, exactly (:mod:`accessibility.siting`), with the
       coverage before and after recomputed on the network.

     :func:`map` draws it offline: walk areas filled, residents naming their nearest
     reading place, each site plan in its own colour in the legend, no internal id.

Coverage
--------
With ``p_i`` the residents of point ``i`` and ``t_i`` its walk (seconds, both
off-network legs included) to the nearest reading place::

    share = Σ_i p_i · [t_i ≤ 60 · minutes] / Σ_i p_i        uncovered = Σ_i p_i · [t_i > 60 · minutes]

A point the network cannot reach counts as not covered.

Candidates and scenario
-----------------------
Uncovered residential areas are the union of discs of ``gap_radius_m`` around the
uncovered points (one area per connected piece). Candidate sites are the network
nodes inside them, thinned to the node nearest the centre of each
``grid_m`` × ``grid_m`` cell (an area without a node gets the node nearest to
it), or a user GeoDataFrame of points. Candidates are snapped to the same
network and a second :class:`~accessibility.engine.Router` is built with the
population points as origins and the existing reading places plus the
candidates as facilities — no network rebuild. For it, residents on the same
segment within the same ``merge_m`` stretch and band of leg length (and covered
now alike) are merged (:func:`accessibility.snapping.merge`; walks within
``2 · merge_m`` walked of each other). Its
:meth:`~accessibility.engine.Router.pairs_within` gives the coverage structure of
the siting models; the after-coverage of each plan is recomputed for every
resident, unmerged, with :meth:`~accessibility.engine.Router.nearest` on existing
+ new sites. The exact plans of the targets are solved side by side in threads
(HiGHS releases Python's lock) while today's walk areas are drawn.

Sub-areas
---------
``areas="nearest_place"``: each point belongs to the nearest settlement point of
the study (only ``place=suburb/quarter/neighbourhood`` ones when the area has
some: they are the city's own districts). A GeoDataFrame of polygons with a
``name`` column: each point belongs to the polygon containing it (``outside``
otherwise). ``None``: no breakdown.

No reading place
----------------
When the data hold no reading place of the groups, the claim cannot be tested: the
``current`` row keeps the residents (``population``, ``points``) but its
``covered``, ``uncovered``, ``share`` and ``uncovered_points`` are NaN with
``status`` ``no_data`` (never 0 %), the sub-areas likewise, the key figures have no
value, and the map and PNG say "no data" (无数据). A siting plan is made only when
candidate sites exist; :meth:`Assessment.note_missing` records both in a
:class:`accessibility.report.Notes`.

Modules
-------
``assessment`` (residents, coverage, sub-areas, candidates, plans: :func:`assess`),
``tables`` (labelled tables, key figures, workbook sheets) and ``web_map`` (the
offline map); each knows only the ones before it. The public names are here.

Tests: ``tests/test_reading_circle.py`` — a grid with a hand-worked answer, the
sample county (the plan reaches its target; exact never needs more sites than
greedy, and the plans equal a cold solve without a time limit), merged residents
and the notebook end to end.
"""

from __future__ import annotations

from .assessment import (
    DEFAULT_TARGETS,
    EXACT_TIE_BREAK_S,
    EXACT_TIME_LIMIT_S,
    MERGE_M,
    Assessment,
    assess,
    walk_speed_overrides,
)
from .tables import excel_headers, excel_tables, key_figures, labelled
from .web_map import (
    AGGREGATE_ABOVE,
    AREA_DETAIL_DEG,
    AREA_PRECISION_DEG,
    DEFAULT_CELL_M,
    filled,
    map,
    png_subtitle,
    resident_cells,
    static_map_layers,
)

__all__ = [
    "AGGREGATE_ABOVE",
    "AREA_DETAIL_DEG",
    "AREA_PRECISION_DEG",
    "DEFAULT_CELL_M",
    "DEFAULT_TARGETS",
    "EXACT_TIE_BREAK_S",
    "EXACT_TIME_LIMIT_S",
    "MERGE_M",
    "Assessment",
    "assess",
    "excel_headers",
    "excel_tables",
    "filled",
    "key_figures",
    "labelled",
    "map",
    "png_subtitle",
    "resident_cells",
    "static_map_layers",
    "walk_speed_overrides",
]
