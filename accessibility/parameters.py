"""Notebook parameters: what each one takes, checked before a kernel starts.

Design
------
In:  a notebook's name, the values given for its ``parameters`` cell (from
     ``accessibility run`` options, ``-p NAME=JSON`` or a batch) and the region they
     are for.
Out: the values as the notebook will get them (thresholds sorted, without repeats),
     or a :class:`~accessibility._errors.ValidationError` in one line that names the
     parameter, the value given and what the parameter takes. A value that passes
     here does not fail the notebook for its type or range.
How
---
:data:`PARAMETERS` holds one :class:`Parameter` per name used in any notebook's
``parameters`` cell: a sentence saying what it takes and a check. Where a stage of the
package already checks a value (a travel mode, a facility group, an origins choice, a
school tier, a road class), the check calls it, so a rule is stated once. A name means
the same in every notebook (``kinds``, ``lang``, ``osm_file``…). Checks that need two
values or the region (a school-tier scenario whose tier has no prepared study; a
population raster the region file does not name) run after the single values.
Tests: ``tests/test_parameters.py`` — every declared parameter of every notebook has an
entry; each bad value gives its one line; ``accessibility run`` and ``batch`` refuse
it before any kernel starts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import classify, engine, network, regions
from ._errors import DataSourceError, ValidationError

#: Languages of labels and tables.
LANGS = ("zh", "en")
#: Population sources a notebook can name (``points`` needs a file the notebook does not pass).
POPULATION_SOURCES = ("auto", "raster", "buildings", "landuse", "places")


@dataclass(frozen=True)
class Parameter:
    """What one notebook parameter takes.

    Attributes
    ----------
    takes
        What is allowed, as the message says it ("a number of minutes > 0, e.g. 15").
    check
        Returns the value as the notebook gets it; raises :class:`ValidationError`
        (its message is the reason) or ``TypeError``/``ValueError`` for a value of the
        wrong kind (the message then says what the parameter takes).
    by_command
        Set by the command for each run (``region``, ``unit``, ``root``), never given.
    """

    takes: str
    check: Callable[[Any], Any]
    by_command: bool = False


class _Refused(ValueError):
    """A value of the wrong kind or out of range: the message says what is taken."""


def _number(value: Any, *, low: float, high: float = math.inf, low_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Refused
    if (value <= low if low_open else value < low) or value > high:
        raise _Refused
    return value


def _positive(value: Any) -> Any:
    _number(value, low=0.0)
    return value


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def _list_of(check: Callable[[Any], Any], *, empty: bool = False) -> Callable[[Any], Any]:
    def run(value: Any) -> list[Any]:
        if not isinstance(value, (list, tuple)) or (not value and not empty):
            raise _Refused
        return [check(v) for v in value]

    return run


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Refused
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Refused
    return value


def _lang(value: Any) -> str:
    if value not in LANGS:
        raise _Refused
    return str(value)


def _mode(value: Any) -> str:
    network.mode_rules(_text(value))
    return str(value)


def _group(value: Any) -> str:
    classify.parse_group(_text(value))
    return str(value)


def _thresholds(value: Any) -> list[float]:
    if not isinstance(value, (list, tuple)) or any(isinstance(v, (bool, str)) for v in value):
        raise _Refused
    return engine.check_thresholds(value)


def _levels(value: Any) -> list[str]:
    levels = _list_of(_text)(value)
    bad = sorted(set(levels) - set(classify.LEVELS))
    if bad:
        msg = f"unknown origin levels {bad}; choose from {', '.join(classify.LEVELS)}"
        raise ValidationError(msg)
    return levels


def _origins(value: Any) -> Any:
    from . import origins

    origins.check_spec(value)
    return value


def _osm_file(value: Any) -> str:
    if not Path(_text(value)).expanduser().is_file():
        msg = f"--osm-file {value} does not exist; give the path of a .osm or .osm.pbf extract"
        raise DataSourceError(msg)
    return str(value)


def _walk_speed(value: Any) -> Any:
    from .policies import reading_circle

    reading_circle.walk_speed_overrides(_number(value, low=0.0))
    return value


def _shares(value: Any) -> list[Any]:
    shares = _list_of(lambda v: _number(v, low=0.0, high=1.0))(value)
    return shares


def _population_source(value: Any) -> str:
    if value not in POPULATION_SOURCES:
        raise _Refused
    return str(value)


def _tiers(value: Any) -> list[str]:
    from .policies import school_tiers

    return list(school_tiers.check_tiers(_list_of(_text)(value)))


def _tier(value: Any) -> str:
    from .policies import school_tiers

    return school_tiers.check_tier(_text(value))


def _tier_modes(value: Any) -> dict[str, str]:
    from .policies import school_tiers

    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _Refused
    school_tiers.load_rules(modes=value)
    return value


def _tier_limits(value: Any) -> dict[str, Any]:
    from .policies import school_tiers

    if not isinstance(value, dict):
        raise _Refused
    for limit in value.values():
        _number(limit, low=0.0)
    school_tiers.load_rules(limits_min=value)
    return value


def _road_class(value: Any) -> str:
    from .policies import road_links

    road_links.osm_class(_text(value))
    return str(value)


def _decay(value: Any) -> str:
    from . import supply

    if value not in supply.DECAYS:
        raise _Refused
    return str(value)


def _set_by_command(value: Any) -> Any:
    return value


#: Every parameter of every notebook's ``parameters`` cell.
PARAMETERS: dict[str, Parameter] = {
    "region": Parameter("a region name (set by the command)", _set_by_command, by_command=True),
    "unit": Parameter("a unit code (set by the command)", _set_by_command, by_command=True),
    "root": Parameter("the project root (set by the command)", _set_by_command, by_command=True),
    "osm_file": Parameter(
        "the path of an existing .osm or .osm.pbf extract, or null", _optional(_osm_file)
    ),
    "offline": Parameter("true or false", _bool),
    "lang": Parameter(f"one of {', '.join(LANGS)}", _lang),
    "origins": Parameter(
        "null, one of auto, villages, places, grid, h3, buildings, or a point file",
        _optional(_origins),
    ),
    "origin_levels": Parameter(
        f"a non-empty list of settlement levels ({', '.join(classify.LEVELS)})", _levels
    ),
    "grid_m": Parameter("a number of metres > 0, e.g. 250, or null", _optional(_positive)),
    "mode": Parameter("a travel mode (walk, walk_child, bicycle, ebike, car)", _mode),
    "thresholds_min": Parameter("a list of minutes, each > 0, e.g. [15, 30]", _thresholds),
    "kinds": Parameter(
        'a non-empty list of facility groups, e.g. ["school:primary", "health", "bus"]',
        _list_of(_group),
    ),
    "minutes": Parameter("a number of minutes > 0, e.g. 15", _positive),
    "walk_speed_kmh": Parameter("a walking speed in km/h, > 0 and ≤ 30, e.g. 4.5", _walk_speed),
    "population_source": Parameter(f"one of {', '.join(POPULATION_SOURCES)}", _population_source),
    "targets": Parameter(
        "a non-empty list of shares of residents, each > 0 and ≤ 1, e.g. [0.95, 1.0]", _shares
    ),
    "tiers": Parameter(
        'a non-empty list of school tiers, e.g. ["primary", "middle", "high"], or null',
        _optional(_tiers),
    ),
    "modes": Parameter(
        'a travel mode per school tier, e.g. {"middle": "bicycle"}, or null',
        _optional(_tier_modes),
    ),
    "limits_min": Parameter(
        'minutes (> 0) per school tier, e.g. {"primary": 20}, or null', _optional(_tier_limits)
    ),
    "scenario_tier": Parameter("a school tier: primary, middle or high", _tier),
    "close": Parameter(
        'a list of school ids, e.g. ["n15014"], or null', _optional(_list_of(_text, empty=True))
    ),
    "clinic_mode": Parameter("a travel mode (walk, walk_child, bicycle, ebike, car)", _mode),
    "clinic_limits_min": Parameter("a list of minutes, each > 0, e.g. [15, 30]", _thresholds),
    "bus_limit_min": Parameter("a number of minutes > 0, e.g. 15", _positive),
    "supply_decay": Parameter(
        "one of step (2SFCA), gaussian (Gaussian 2SFCA), zones (E2SFCA)", _decay
    ),
    "min_road_class": Parameter(
        "an OSM highway class (e.g. secondary) or a technical grade (e.g. grade_ii)", _road_class
    ),
}


def shown(value: Any, limit: int = 80) -> str:
    """A value as the user wrote it (JSON), shortened to ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_value(name: str, value: Any, *, notebook: str) -> Any:
    """One parameter's value as the notebook gets it, or one line saying what it takes.

    Raises
    ------
    ValidationError
        Naming the parameter, the value and what the parameter takes (or why the
        value is refused, in the words of the stage that uses it).
    DataSourceError
        For ``osm_file``: no such file.
    """
    spec = PARAMETERS.get(name)
    if spec is None:
        msg = f"notebook {notebook} declares {name!r}, which accessibility.parameters does not know"
        raise ValidationError(msg)
    where = f"parameter {name} of {notebook}"
    try:
        return spec.check(value)
    except DataSourceError as exc:
        raise DataSourceError(_one_line(f"{where} = {shown(value)}: {exc}")) from None
    except ValidationError as exc:
        raise ValidationError(_one_line(f"{where} = {shown(value)}: {exc}")) from None
    except (TypeError, ValueError):
        msg = f"{where}: {shown(value)} is not allowed; it takes {spec.takes}"
        raise ValidationError(msg) from None


def check(notebook: str, values: Mapping[str, Any], *, region: regions.Region) -> dict[str, Any]:
    """Every given value of a notebook's parameters, checked alone and together.

    Parameters
    ----------
    notebook
        Its name (for messages).
    values
        Parameter values, names already known to be declared by the notebook.
    region
        The region the run is for.

    Returns
    -------
    dict
        The values as the notebook gets them.
    """
    out = {name: check_value(name, value, notebook=notebook) for name, value in values.items()}
    if out.get("population_source") == "raster" and not region.population.get("raster"):
        msg = (
            f'parameter population_source of {notebook} = "raster": region file '
            f"{region.config_path} names no population raster; add population: "
            "{raster: worldpop.tif} to it, or choose auto, buildings, landuse or places"
        )
        raise ValidationError(msg)
    if notebook == "school_tiers":
        _check_scenario_tier(out)
    return out


def _check_scenario_tier(values: Mapping[str, Any]) -> None:
    """The scenario's tier must travel by a mode one of the chosen tiers prepares."""
    from .policies import school_tiers

    tier = values.get("scenario_tier")
    if tier is None:
        return
    rules = school_tiers.load_rules(modes=values.get("modes"), limits_min=values.get("limits_min"))
    tiers = values.get("tiers") or school_tiers.TIERS
    prepared = {rules.tier(t).mode for t in tiers}
    if rules.tier(tier).mode not in prepared:
        msg = (
            f"parameter scenario_tier of school_tiers = {shown(tier)}: its travel mode "
            f"({rules.tier(tier).mode}) is none of the chosen tiers' ({', '.join(tiers)}); "
            f"add {tier!r} to tiers or choose one of them"
        )
        raise ValidationError(msg)


def _one_line(text: str) -> str:
    return " ".join(text.split())
