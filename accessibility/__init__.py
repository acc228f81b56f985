"""Travel-time access to schools, clinics, reading places and bus stops over OSM road networks.

Modules, in the order data flows through them::

    settings -> regions -> sources (sample, osm) -> classify -> network -> snapping
             -> engine -> metrics, audit, equity, population, isochrones, siting
             -> policies/ -> verdicts -> maps, static_map, export, convert -> outputs;
    pipeline and runner/cli drive them; convert turns osmnx graphs into road data and
    networks into osmnx graphs.

Call sites read ``acc.network.build(...)``, ``acc.engine.access(...)`` and so on.
"""

from __future__ import annotations

from . import (
    audit,
    classify,
    convert,
    engine,
    equity,
    export,
    isochrones,
    labels,
    maps,
    metrics,
    network,
    outputs,
    pipeline,
    population,
    regions,
    report,
    runner,
    siting,
    snapping,
    static_map,
    verdicts,
)
from .settings import configure, settings

__version__ = "0.1.0"

__all__ = [
    "audit",
    "classify",
    "configure",
    "convert",
    "engine",
    "equity",
    "export",
    "isochrones",
    "labels",
    "maps",
    "metrics",
    "network",
    "outputs",
    "pipeline",
    "population",
    "regions",
    "report",
    "runner",
    "settings",
    "siting",
    "snapping",
    "static_map",
    "verdicts",
]
