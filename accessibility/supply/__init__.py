"""Supply against demand: beds, doctors or school seats per resident within reach (2SFCA family).

Design
------
In:  a :class:`~accessibility.engine.Router` (one travel mode) with the origins and
     facilities snapped onto it, the classified facilities with their supply columns
     (``beds``, ``doctors``, ``capacity``: OSM tags kept by
     :func:`accessibility.classify.facilities`, or a registry's columns such as
     床位数, 执业（助理）医师数 and 学位数), the origins' residents (``population``; NaN = unknown), and the
     rules of ``rules/supply.yml`` (what a facility of each tier is worth when the data
     do not say, the catchment and mode of health care, the decay functions). Schools
     take their mode, catchment (``limit_min``) and school-age share from
     ``rules/tiers.yml``.
Out: :class:`SupplyIndex` per facility group and measure — per origin the index in
     natural units (beds per 1,000 residents, seats per school-age child), its
     status and the number of facilities in reach; per facility its supply (stated or
     defaulted), the demand in its catchment and its supply-to-demand ratio; a
     one-row summary (share of supply defaulted and the confidence that follows from
     it, population-weighted mean, Gini). :func:`by_township` gives the index per
     township; :mod:`accessibility.supply_map` draws it.

How
---
The two-step floating catchment area method (Luo & Wang 2003), with a distance
decay ``w(t)`` of the travel time ``t`` (minutes) applied in both steps (Luo & Qi
2009; Dai 2010)::

    step 1, per facility j:  R_j = S_j / sum_k w(t_kj) D_k
    step 2, per origin i:    A_i = per * sum_j w(t_ij) R_j

``S_j`` is the facility's supply, ``D_k = population_k × share`` the demand at origin
``k`` (``share`` = 1 for residents, the tier's school-age share for children),
``per`` 1,000 for beds per 1,000 residents. Decays (:class:`Decay`): ``step`` — 1
within the catchment ``T`` (2SFCA); ``gaussian`` — ``(exp(-(t/T)²/2) − exp(-1/2)) /
(1 − exp(-1/2))`` within ``T`` (Gaussian 2SFCA); ``zones`` — one weight per zone of
the catchment, e.g. 1.00 / 0.68 / 0.22 for 0–10 / 10–20 / 20–30 min (E2SFCA). Zones
are closed above: a trip of exactly 10 minutes is in the first zone.

The (facility, origin) pairs within ``T`` come from the router's bounded searches
(:meth:`~accessibility.engine.Router.pairs_within`: one search per facility that stops
at ``T``), as a sparse matrix; both steps are sparse matrix–vector products, so no
origins × facilities array is ever built and the cost grows with the pairs in reach.

Because the same weights serve both steps, the supply is conserved: the
population-weighted sum of the index equals ``per`` × the supply of the facilities
that have residents in reach. What cannot be measured is kept apart from a zero:

- no facility of the group in the data → every index NaN, status ``no_facility``
  (no data, never 0);
- an origin with a known population and no facility within ``T`` → index 0,
  status ``none_in_reach`` (a real zero: no supply in reach);
- an origin whose population is unknown → index NaN, status ``population_unknown``
  (its residents were not counted in any facility's demand);
- a facility with no residents in its catchment → ratio NaN, its supply reaches no
  one and is listed (``facilities_without_demand``).

A facility whose supply columns are empty gets its tier's default; the share of the
supply (and of facilities) so defaulted is reported beside every figure, and above
the thresholds of ``rules/supply.yml`` it lowers the stated confidence (高/中/低).

Modules: :mod:`~accessibility.supply.rules` (rules, decays), :mod:`~accessibility.supply.index`
(the two steps, supply values, indices, summaries, a study's indices),
:mod:`~accessibility.supply.outputs` (tables, sheets, layers, key figures).

Tests: ``tests/test_supply.py`` — a case of two clinics and three villages worked by
hand; agreement with PySAL ``access`` (``Access.two_stage_fca`` and
``enhanced_two_stage_fca`` on the same cost table and weights) within 1e-9 relative on
random cases and on the sample county; conservation of supply; the decays; defaults
and their share; no facility, none in reach, unknown population, no demand.
"""

from __future__ import annotations

from .index import (
    UNITS,
    SupplyIndex,
    TwoStep,
    by_township,
    health,
    index,
    schools,
    summarise,
    summary_table,
    supply_values,
    two_step,
)
from .outputs import excel_headers, excel_tables, key_figures, layers, township_tables, townships
from .rules import (
    CONFIDENCE_LEVELS,
    DECAYS,
    METHODS,
    STATUS_NO_FACILITY,
    STATUS_NONE_IN_REACH,
    STATUS_OK,
    STATUS_POPULATION_UNKNOWN,
    Decay,
    Measure,
    SupplyRules,
    decay,
    load_rules,
)

__all__ = [
    "CONFIDENCE_LEVELS",
    "DECAYS",
    "METHODS",
    "STATUS_NONE_IN_REACH",
    "STATUS_NO_FACILITY",
    "STATUS_OK",
    "STATUS_POPULATION_UNKNOWN",
    "UNITS",
    "Decay",
    "Measure",
    "SupplyIndex",
    "SupplyRules",
    "TwoStep",
    "by_township",
    "decay",
    "excel_headers",
    "excel_tables",
    "health",
    "index",
    "key_figures",
    "layers",
    "load_rules",
    "schools",
    "summarise",
    "summary_table",
    "supply_values",
    "township_tables",
    "townships",
    "two_step",
]
