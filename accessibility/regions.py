"""Regions: what area an analysis covers, where its data live, how it is projected.

Design
------
In:  a YAML file per region — ``regions/<name>.yml`` under the project root (a user
     adds a county by adding a file), or one of the package's built-in regions
     (``accessibility/regions/*.yml``, e.g. the synthetic ``sample``).
Out: a :class:`Region`: names (Chinese and English), whether it is synthetic, its
     data source, boundary specification and buffer, units, speed overrides, and
     its folders under ``data/raw``, ``data/processed`` and ``maps``.
     :func:`metric_crs` picks the UTM zone of a boundary's centroid — never a
     hard-coded EPSG code (Xuchang straddles zones 49N and 50N).
Tests: ``tests/test_regions.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
import yaml

from ._errors import UnknownRegionError, ValidationError
from .settings import settings


@dataclass(frozen=True)
class Region:
    """A study region as configured.

    Attributes
    ----------
    name
        Short identifier, also the folder name under ``data/`` and ``maps/``.
    label_zh, label_en
        Display names.
    synthetic
        True for generated data; every output then says so.
    source
        Where raw data come from, e.g. ``{"kind": "sample", "seed": 2023}``.
    boundary
        Boundary specification, e.g. ``{"file": "boundary.geojson"}`` (relative to
        the raw folder).
    buffer_m
        Metres around the boundary within which roads and facilities are kept.
    units
        County-level units: dicts with ``code``, ``name``, ``name_en``.
    max_snap_m
        Snap distance above which points are flagged, metres.
    speed_overrides
        Per mode, km/h per highway class.
    config_path
        The YAML file it was read from.
    """

    name: str
    label_zh: str
    label_en: str
    synthetic: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    boundary: dict[str, Any] = field(default_factory=dict)
    buffer_m: float = 2000.0
    units: tuple[dict[str, str], ...] = ()
    max_snap_m: float = 300.0
    speed_overrides: dict[str, dict[str, float]] = field(default_factory=dict)
    config_path: Path | None = None

    def label(self, lang: str = "zh") -> str:
        """Display name in ``zh`` or ``en``."""
        return self.label_en if lang == "en" else self.label_zh

    @property
    def raw_dir(self) -> Path:
        return settings.data_raw / self.name

    @property
    def processed_dir(self) -> Path:
        return settings.data_processed / self.name

    @property
    def maps_dir(self) -> Path:
        return settings.maps_dir / self.name


def _builtin_dir() -> Path:
    return Path(str(resources.files("accessibility").joinpath("regions")))


def _config_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in (_builtin_dir(), settings.regions_dir):
        if folder.is_dir():
            for path in sorted(folder.glob("*.yml")):
                found[path.stem] = path  # project files win over built-ins
    return found


def available() -> list[str]:
    """Names of all configured regions (project ``regions/`` and built-in)."""
    return sorted(_config_files())


def load(name: str) -> Region:
    """Read a region's configuration.

    Raises
    ------
    UnknownRegionError
        No ``<name>.yml`` in the project's ``regions/`` folder or among the built-ins.
    ValidationError
        The file lacks a required key or has a wrong value.
    """
    files = _config_files()
    if name not in files:
        msg = (
            f"unknown region {name!r}; configured regions: {', '.join(sorted(files)) or 'none'}. "
            f"Add {settings.regions_dir / (str(name) + '.yml')} to define it."
        )
        raise UnknownRegionError(msg)
    path = files[name]
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        msg = f"region file {path} is not valid YAML: {exc}"
        raise ValidationError(msg) from exc
    for key in ("label_zh", "label_en", "source"):
        if key not in data:
            msg = f"region file {path} lacks the key {key!r}"
            raise ValidationError(msg)
    buffer_m = float(data.get("buffer_m", 2000.0))
    max_snap_m = float(data.get("max_snap_m", settings.max_snap_m))
    if buffer_m < 0 or max_snap_m <= 0:
        msg = f"region file {path}: buffer_m must be ≥ 0 and max_snap_m > 0"
        raise ValidationError(msg)
    return Region(
        name=str(data.get("name", name)),
        label_zh=str(data["label_zh"]),
        label_en=str(data["label_en"]),
        synthetic=bool(data.get("synthetic", False)),
        source=dict(data["source"]),
        boundary=dict(data.get("boundary") or {}),
        buffer_m=buffer_m,
        units=tuple(dict(u) for u in data.get("units") or ()),
        max_snap_m=max_snap_m,
        speed_overrides={k: dict(v or {}) for k, v in (data.get("speed_overrides") or {}).items()},
        config_path=path,
    )


def metric_crs(boundary: shapely.Geometry) -> str:
    """Return the UTM zone (WGS-84) of a boundary's centroid as ``"EPSG:326zz"``/``"EPSG:327zz"``.

    Parameters
    ----------
    boundary
        Polygon in WGS-84 degrees.
    """
    if boundary is None or boundary.is_empty:
        msg = "cannot choose a projection for an empty boundary"
        raise ValidationError(msg)
    c = boundary.centroid
    lon, lat = float(c.x), float(c.y)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        msg = f"boundary centroid ({lon}, {lat}) is not in degrees; give the boundary in WGS-84 (EPSG:4326)"
        raise ValidationError(msg)
    zone = min(math.floor((lon + 180) / 6) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"
