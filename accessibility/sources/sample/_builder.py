"""The county builder: :class:`_Builder` combines the stage mixins, holds the shared
state (random generator, roads, areas, points of interest, counts, segment store) and
runs the stages in their fixed order, so that one seed always draws the same numbers.
In: a seed; out: the laid-out county, in local metres, for :mod:`._writing`."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from shapely.geometry import Point, Polygon

from ._constants import XY
from ._facilities import _FacilitiesMixin
from ._land import _LandMixin
from ._layout import _add_junctions
from ._minor_roads import _MinorRoadsMixin
from ._model import _SegmentStore, _Settlement, _Way
from ._roads import _RoadsMixin


class _Builder(_LandMixin, _RoadsMixin, _MinorRoadsMixin, _FacilitiesMixin):
    """Lays out the county in local metres; :func:`_render` writes it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.roads: list[_Way] = []
        self.areas: list[_Way] = []  # closed ways that are not roads (buildings, campuses, park)
        self.pois: list[tuple[XY, dict[str, str]]] = []
        self.counts: dict[str, int] = {}
        self.townships: list[_Settlement] = []
        self.villages: list[_Settlement] = []
        self.hamlets: list[tuple[XY, str]] = []
        self.fragments: list[list[_Way]] = []
        self.keep_out: list[Any] = []
        self._keep_out_union: Any = None

    # ---------------------------------------------------------------- orchestration

    def build(self) -> None:
        self._make_boundary()
        self._make_county_seat()
        self._make_river()
        self._place_townships()
        self._place_villages()
        self._place_hamlets()
        self.store = _SegmentStore(self.river_line, self.side_polys)
        self._county_seat_streets()
        self._township_streets()
        self._trunks()
        self._township_roads()
        self._pick_isolated()
        self._village_roads()
        self._second_links()
        self._place_fragments()
        self._tracks()
        self._paths()
        self._park()
        self._bus_stops()
        self._facilities()
        self._buildings()
        _add_junctions(self.roads)

    def _count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def _keep_out_geom(self) -> Any:
        if self._keep_out_union is None:
            self._keep_out_union = shapely.union_all(self.keep_out) if self.keep_out else Polygon()
            shapely.prepare(self._keep_out_union)
        return self._keep_out_union

    def _add_keep_out(self, geom: Any) -> None:
        self.keep_out.append(geom)
        self._keep_out_union = None

    def _side(self, p: XY) -> int:
        if self.side_polys[0].contains(Point(p)):
            return 0
        if self.side_polys[1].contains(Point(p)):
            return 1
        return -1

    def _add_road(
        self,
        coords: list[XY],
        tags: dict[str, str],
        *,
        owner: int,
        noded: bool = True,
        attachable: bool = True,
    ) -> _Way:
        """Add a road way and make it findable for later links (see :class:`_SegmentStore`)."""
        way = _Way(coords, tags, noded)
        self.roads.append(way)
        self.store.add(coords, owner=owner, attachable=attachable)
        return way
