"""The :class:`Study`: what :func:`~accessibility.pipeline.prepare` returns.

In:  the prepared parts of one region (or unit) and travel mode. Out: one object
     holding them, with its folders, labels, the data note for maps and
     :meth:`Study.access` (access results joined to the origins, times beyond a split
     unit's exact horizon marked).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from .. import dedup, engine, network, regions
from ..settings import inside_root
from .split import buffer_for, is_split

log = logging.getLogger(__package__)


@dataclass
class Study:
    """Everything prepared for one region and travel mode (see the module docstring)."""

    region: regions.Region
    unit: regions.Unit | None
    mode: str
    crs: str
    boundary: gpd.GeoSeries
    network: network.Network
    places: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    origins: gpd.GeoDataFrame
    facilities: gpd.GeoDataFrame
    origin_snap: pd.DataFrame
    facility_snap: pd.DataFrame
    router: engine.Router
    meta: dict[str, Any] = field(default_factory=dict)
    #: ``landuse=residential`` areas inside the area (population where footprints are missing)
    landuse: gpd.GeoDataFrame = field(
        default_factory=lambda: gpd.GeoDataFrame(geometry=[], crs=4326)
    )
    #: Seconds up to which a time is the same as with unlimited data around the area
    #: (see :func:`exact_horizon_s`); ``inf`` when unknown.
    exact_within_s: float = math.inf
    #: Facilities mapped twice and merged into one (:func:`accessibility.dedup.merge`):
    #: ``kept``, ``dropped``, ``kind``, names, ``distance_m``, ``rule``.
    duplicates: pd.DataFrame = field(default_factory=lambda: dedup.empty_table())
    #: The road data the network was built from (every class and piece, way names
    #: included), for analyses on another mode or class of road (township road links).
    roads: network.RoadData | None = None
    #: Population estimates made for this study, kept so that each is made once
    #: (:func:`accessibility.population.estimate`).
    population_estimates: dict[tuple[Any, ...], Any] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def split(self) -> bool:
        """Whether this study is one unit of a region analysed unit by unit on shared data.

        Such a unit sees the map data only up to ``buffer_m`` beyond its boundary, so
        its times beyond :attr:`exact_within_s` are upper bounds, and
        :meth:`access` marks them. A unit with a data source of its own is a
        region of its own, not part of a split.
        """
        return is_split(self.region, self.unit)

    @property
    def processed_dir(self) -> Path:
        """Where tables and caches of this study go: ``data/processed/<region>[/<unit>]``."""
        base = self.region.processed_dir
        return inside_root(base / self.unit.code) if self.unit is not None else base

    @property
    def maps_dir(self) -> Path:
        """Where maps of this study go: ``maps/<region>[/<unit>]``."""
        base = self.region.maps_dir
        return inside_root(base / self.unit.code) if self.unit is not None else base

    def label(self, lang: str = "zh") -> str:
        """Display name: the region's, or "region · unit"."""
        if self.unit is None:
            return self.region.label(lang)
        return f"{self.region.label(lang)} · {self.unit.label(lang)}"

    def data_note(self, lang: str = "zh", *, origins: bool = True) -> str:
        """One line for maps: where the data come from, their date, the origins
        (:meth:`origins_note`; ``origins=False`` for maps of residents, not origins) and
        the map's date."""
        from ..clock import china_time
        from ..labels import label

        if self.region.synthetic:
            source = label("ui.source_synthetic", lang=lang)
        else:
            source = label("ui.source_osm", lang=lang)
            date = self.meta.get("osm_date")
            how = self.meta.get("osm_date_source")
            if date and how:
                date = label(f"ui.date_{how}", lang=lang).format(date=date)
            elif not date:
                date = label("ui.date_unknown", lang=lang)
            details = ", ".join(str(v) for v in (self.meta.get("osm_file_name"), date) if v)
            if details:
                source += f" ({details})"
            if self.meta.get("registries"):
                source += " + " + label("ui.source_registry", lang=lang)
        today = china_time(lang=lang)  # when the map was made, in 北京时间
        return (
            f"{label('ui.data_source', lang=lang)}: {source} · "
            + (f"{Study.origins_note(self, lang)} · " if origins else "")
            + f"{label('ui.map_date', lang=lang)}: {today}"
        )

    def origins_note(self, lang: str = "zh") -> str:
        """Which origins the study uses, and why when it was not the user's choice:
        "起点：人口网格（250 米；数据中村庄不足，改用人口网格）"."""
        from ..labels import label

        kind = self.meta.get("origins_kind", "villages")
        text = label(f"origins.{kind}", lang=lang).format(grid_m=float(self.meta.get("grid_m", 0)))
        sep = "；" if lang == "zh" else "; "
        cells = (self.meta.get("origins_found") or {}).get("grid_cells")
        if kind in ("grid", "h3") and cells:
            held = self.meta["origins_found"]["grid_cells_with_residents"]
            text += sep + label("origins.cells_with_residents", lang=lang).format(
                n=held, total=cells
            )
        if kind in ("grid", "h3") and str(self.meta.get("origins_reason", "")).startswith("auto"):
            text += sep + label("origins.auto_grid", lang=lang)
        if self.meta.get("origins_population_estimate"):
            why = self.meta["origins_population_estimate"]
            text += sep + label(f"reading_ui.estimate_{why}", lang=lang)
        colon = "：" if lang == "zh" else ": "
        return f"{label('origins.title', lang=lang)}{colon}{text}"

    def access(self, groups: Sequence[str], *, thresholds_min: Sequence[float]) -> gpd.GeoDataFrame:
        """Access results joined to the origins: one row per origin, keyed by its id.

        See :func:`accessibility.engine.access` for the columns; the origins' own
        columns (``name``, ``level``, ``population``, ``leg_m``, ``snap_flag``) and
        geometry (WGS-84) come first.

        For a unit of a split region (:attr:`split`) each group also gets a boolean
        column ``{key}_beyond_buffer``: true where the time exceeds
        :attr:`exact_within_s` (or no facility was reached). Those times are kept
        but are upper bounds: a faster route may leave the unit's buffered area.
        Counts within a threshold above the horizon may miss facilities beyond the
        buffer; a warning says so and what ``buffer_m`` would cover it.
        """
        table = engine.access(self.router, self.facilities, groups, thresholds_min=thresholds_min)
        if self.split:
            horizon_min = self.exact_within_s / 60.0
            largest = max(engine.check_thresholds(thresholds_min))
            if largest > horizon_min:
                v_max = float(self.meta.get("v_max_kmh", math.nan))
                log.warning(
                    "%s: times beyond %.1f min are not exact for this unit (its data end %g m "
                    "beyond its boundary, and %s reaches %.1f km/h); counts within %g min may "
                    "miss facilities outside. Set buffer_m ≥ %.0f m in %s to cover %g min",
                    self.label("en"),
                    horizon_min,
                    self.region.buffer_m,
                    self.mode,
                    v_max,
                    largest,
                    buffer_for(largest * 60.0, v_max_kmh=v_max),
                    self.region.config_path,
                    largest,
                )
            for g in groups:
                key = engine.group_key(g)
                table[f"{key}_beyond_buffer"] = ~(table[f"{key}_time_min"] <= horizon_min)
        return self.origins.join(table)
