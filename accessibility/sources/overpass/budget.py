"""Time limits: each query's deadline and the total shared by one region's or unit's queries.

In: ``settings.overpass_deadline`` / ``overpass_region_deadline`` or explicit seconds.
Out: :class:`RegionBudget` (what is spent and left, and the messages once it runs
out), :func:`region_budget` and the context variable holding the total in force.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ...settings import OVERPASS_REGION_DEADLINE_ENV, check_seconds, settings

# --------------------------------------------------------------------------- region total


@dataclass
class RegionBudget:
    """The time all the Overpass queries made for one region or unit may still take.

    Attributes
    ----------
    name
        What is being prepared, for messages (e.g. ``"region xuchang unit 411024"``).
    total_s
        Seconds the queries may take together.
    spent_s
        Seconds spent so far on queries sent to the server (waiting, retrying,
        receiving); reading cached answers and merging tiles are not counted.
    answered
        Queries answered completely (and cached).
    cached
        Answers read from the cache (they cost nothing).
    reached
        Whether the server gave any answer (an HTTP status, a status page) to a query
        made within this total.
    """

    name: str
    total_s: float
    spent_s: float = 0.0
    answered: int = 0
    cached: int = 0
    reached: bool = False

    @property
    def left_s(self) -> float:
        """Seconds left of the total (negative once a download overran it)."""
        return self.total_s - self.spent_s

    def summary(self, label: str) -> str:
        """One sentence: the total ran out while query ``label`` was under way."""
        return (
            f"Overpass download stopped: the queries for {self.name} used up their total "
            f"of {self.total_s:g} s: {self.spent_s:.1f} s spent, {self.answered} "
            f"quer{'y' if self.answered == 1 else 'ies'} answered and {self.cached} read "
            f"from the cache before {label} was cut off"
        )

    def used_up(self, label: str, *, cache_dir: Path) -> str:
        """The message of a query (``label``) stopped because the total ran out: what
        happened and how to go on."""
        kept = (
            f" The answers downloaded stay in {cache_dir}, so a rerun asks only for the rest."
            if self.answered
            else ""
        )
        return (
            f"{self.summary(label)}.{kept} To go on, allow more time "
            "(--overpass-region-deadline SECONDS on `run` or `batch`, or the environment "
            f"variable {OVERPASS_REGION_DEADLINE_ENV}), or read a local OSM extract "
            f"instead: {_LOCAL_EXTRACT}"
        )


_BUDGET: contextvars.ContextVar[RegionBudget | None] = contextvars.ContextVar(
    "overpass_region_budget", default=None
)


@contextlib.contextmanager
def region_budget(seconds: float | None = None, *, name: str) -> Iterator[RegionBudget]:
    """Let the Overpass queries made inside the ``with`` block take ``seconds`` in all.

    Every query of :func:`download` and :func:`find_boundaries` made inside the block
    (a boundary, a region's data, each tile) draws on one total: its own deadline
    becomes the smaller of the per-query deadline and what is left of the total, and
    once the total is used up the query fails with a :class:`DataSourceError` that
    names ``name``, the seconds spent and the queries done, and says how to go on
    (:class:`ServerUnreachableError` when the server answered none of the block's
    queries). Cached answers cost nothing. A download that is receiving data is not
    cut, so the total can be overrun by it; the next query then fails at once.

    Each block starts a fresh total; a block inside another replaces it until it ends.
    Outside any block, each call of :func:`download` or :func:`find_boundaries` has a
    total of its own.

    Parameters
    ----------
    seconds
        The total, in seconds; ``None`` means ``settings.overpass_region_deadline``
        (900 s unless set).
    name
        What is being prepared, named in messages, e.g. ``"region xuchang unit 411024"``.

    Yields
    ------
    RegionBudget
        The total and what has been spent of it.

    Raises
    ------
    ValidationError
        When ``seconds`` (or the setting) is not a number of seconds > 0.
    """
    total = (
        settings.overpass_region_deadline if seconds is None else check_seconds(seconds, "seconds")
    )
    budget = RegionBudget(name=name, total_s=total)
    token = _BUDGET.set(budget)
    try:
        yield budget
    finally:
        _BUDGET.reset(token)


@contextlib.contextmanager
def _budget(name: str) -> Iterator[RegionBudget]:
    """The region's total in force, else one for this call alone."""
    budget = _BUDGET.get()
    if budget is not None:
        yield budget
        return
    with region_budget(name=name) as own:
        yield own


# --------------------------------------------------------------------------- per-query deadline; working offline


def _deadline(deadline_s: float | None) -> float:
    if deadline_s is None:
        return settings.overpass_deadline
    return check_seconds(deadline_s, "deadline_s")


#: How to work from a local extract instead, in the message of every failed download.
_LOCAL_EXTRACT = (
    "`accessibility run --region <name> --osm-file henan-latest.osm.pbf`, or "
    "`source: {kind: osm_file, path: henan-latest.osm.pbf}` in the region file (the "
    "path relative to data/raw/<region>/), where the file is a provincial (or "
    "national) .osm.pbf extract, e.g. from Geofabrik's China extracts "
    "(https://download.geofabrik.de/asia/china.html) or a mirror of them; it is "
    "clipped to the region boundary."
)


# --------------------------------------------------------------------------- progress


def _total_left(budget: RegionBudget, running_s: float) -> str:
    """What is left of the region's total while a query has run ``running_s`` seconds."""
    left = max(0.0, budget.left_s - running_s)
    return f"{_s(left)} s left of the {budget.total_s:g} s total for {budget.name}"


def _s(seconds: float) -> str:
    """Seconds as a short number: 900, 1.25, 59.8."""
    return f"{seconds:g}" if seconds == round(seconds, 2) else f"{seconds:.1f}"
