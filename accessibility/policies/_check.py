"""The result of one public-service claim's test (shared by :mod:`.services` and :mod:`.road_links`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd


@dataclass
class ServiceCheck:
    """The result of one claim's test.

    Attributes
    ----------
    claim
        ``"clinics"``, ``"bus"`` or ``"township_links"``.
    table
        One row per village (clinics, bus) or per township seat (road links), index =
        place id, geometry in EPSG:4326.
    summary
        The claim's figures (see each function).
    meta
        Parameters: mode, limits, road class… and, for the road links, the routes and
        the sensitivity table.
    """

    claim: str
    table: gpd.GeoDataFrame
    summary: pd.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)
