"""Travel-time access to schools, clinics, reading places and bus stops over OSM road networks.

Modules, in the order data flows through them::

    settings -> regions -> sources (sample, osm) -> classify -> network -> snapping
             -> engine -> metrics, audit, equity, population, isochrones, siting
             -> policies/ -> verdicts -> maps, static_map, export -> outputs;
    pipeline and runner/cli drive them.

Call sites read ``acc.network.build(...)``, ``acc.engine.access(...)`` and so on.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .settings import configure, settings

if TYPE_CHECKING:
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
        parameters,
        pipeline,
        population,
        regions,
        report,
        runner,
        siting,
        snapping,
        static_map,
        supply,
        supply_map,
        verdicts,
    )


def __getattr__(name: str) -> object:
    if name in _MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULES})


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
    "parameters",
    "pipeline",
    "population",
    "regions",
    "report",
    "runner",
    "settings",
    "siting",
    "snapping",
    "static_map",
    "supply",
    "supply_map",
    "verdicts",
]

#: Submodules, imported on first use (``acc.pipeline``…): the command line starts
#: without loading the map and table libraries it does not need.
_MODULES = frozenset(__all__) - {"configure", "settings"}
