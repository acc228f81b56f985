"""Regions: what area an analysis covers, where its data live, how it is projected.

Design
------
In:  a YAML file per region — ``regions/<name>.yml`` under the project root (a user
     adds a county by adding a file), or one of the package's built-in regions
     (``accessibility/regions/*.yml``, e.g. the synthetic ``sample``).
Out: a :class:`Region`: names (Chinese and English), whether it is synthetic, its
     data source, boundary specification and buffer, units, speed overrides, and
     its folders under ``data/raw``, ``data/processed`` and ``maps``. A unit may
     have a data source of its own (e.g. one synthetic county per unit); its raw
     data then live in ``data/raw/<region>/<code>/`` (:meth:`Region.raw_dir_of`).
     :func:`metric_crs` picks the UTM zone of a boundary's centroid — never a
     hard-coded EPSG code (Xuchang straddles zones 49N and 50N). A region may name
     a population raster (``population: {raster: worldpop.tif}``, see
     :func:`check_population_spec`).
     :func:`from_extract` writes a region file listing every unit of one admin level
     inside a parent boundary (e.g. the counties of a province) found in an extract
     (:mod:`accessibility.sources.province`).
Tests: ``tests/test_regions.py``, ``tests/test_province_regions.py``.
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shapely
import yaml

from ._errors import UnknownRegionError, ValidationError
from ._validate import check_degrees
from .settings import check_path_part, inside_root, settings

if TYPE_CHECKING:
    from .sources.province import ProvinceUnits

BOUNDARY_KINDS = ("file", "osm", "circle", "bbox")

#: Data source kinds, with the keys each one takes besides ``kind``.
SOURCE_KINDS: dict[str, tuple[str, ...]] = {
    "sample": ("seed",),
    "osm_file": ("path",),
    "overpass": (),
}


@dataclass(frozen=True)
class Unit:
    """A county-level unit of a region (a district, county or county-level city).

    Attributes
    ----------
    code
        Administrative code (GB/T 2260), e.g. ``"411024"``.
    name, name_en
        Names; ``name`` is also what a boundary lookup by name uses by default.
    kind
        Free text: ``district``, ``county``, ``county_city``…
    boundary
        Boundary specification (see :func:`check_boundary_spec`); empty means "look
        up an administrative boundary named ``name`` at admin level 6".
    seat
        Name of the place that is the unit's county seat, when the map data does
        not mark it (``capital=6``); empty to rely on the data.
    source
        A data source of the unit's own (see :func:`check_source_spec`), e.g.
        ``{"kind": "sample", "seed": 11}``; empty to use the region's. A unit with
        its own source keeps its raw data in ``data/raw/<region>/<code>/``, and
        a file boundary is read from there; a generated (``sample``) unit
        without a boundary uses the ``boundary.geojson`` generated with it.
    official
        Official counts for the unit (see :attr:`Region.official`).
    prefecture, prefecture_en
        The prefecture (地级市, admin_level 5) the unit lies in, when known (written by
        :func:`from_extract`); the index page groups units by it. Empty for a unit
        administered by the province directly, or when not recorded.
    """

    code: str
    name: str
    name_en: str = ""
    kind: str = ""
    boundary: dict[str, Any] = field(default_factory=dict)
    seat: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    official: dict[str, float] = field(default_factory=dict)
    prefecture: str = ""
    prefecture_en: str = ""

    def __post_init__(self) -> None:  # the code is a folder name (data/, maps/, runs/)
        check_path_part(self.code, "unit code", f"unit {self.name}")

    def label(self, lang: str = "zh") -> str:
        """Display name in ``zh`` or ``en``."""
        return (self.name_en or self.name) if lang == "en" else self.name


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
        Where raw data come from, e.g. ``{"kind": "sample", "seed": 2023}`` (see
        :func:`check_source_spec`); units may override it.
    boundary
        Boundary specification, e.g. ``{"file": "boundary.geojson"}`` (relative to
        the raw folder).
    buffer_m
        Metres around the boundary within which roads and facilities are kept.
    units
        County-level units; a run covers each unit separately when they have
        boundaries of their own, else the whole region.
    max_snap_m
        Snap distance above which points are flagged, metres.
    speed_overrides
        Per mode, km/h per highway class.
    registries
        Official lists merged with the map data: ``{"facilities": (...), "villages": (...)}``,
        each entry a dict with ``file`` (relative to the raw folder) and the options of
        :func:`accessibility.sources.registry.read_facilities` / ``read_villages``
        (``datum``, ``kind``, ``columns``, ``encoding``, ``sheet``); facility entries may
        also set ``max_distance_m`` and ``min_similarity`` for the merge.
    config_path
        The YAML file it was read from.
    population
        Where residents are counted: ``{"raster": "worldpop_chn_2020.tif"}``
        (relative to the raw folder, or absolute) with an optional ``band``; see
        :func:`check_population_spec` and :meth:`population_raster`. Empty: the
        population is estimated from the map data.
    official
        Official counts the data are compared with (``rules/claims.yml``, key
        ``official``), e.g. ``{"county_libraries": 12, "townships": 75}``: for a run
        of the whole region; a unit's own counts (``units: [{official: ...}]``) for a
        run of that unit. A kind far below its count makes the claims naming it
        "cannot tell" (see :mod:`accessibility.verdicts`).
    claims
        Per claim key, ``{"target": ...}`` replacing the target of ``rules/claims.yml``.
    """

    name: str
    label_zh: str
    label_en: str
    synthetic: bool = False
    source: dict[str, Any] = field(default_factory=dict)
    boundary: dict[str, Any] = field(default_factory=dict)
    buffer_m: float = 2000.0
    units: tuple[Unit, ...] = ()
    max_snap_m: float = 300.0
    speed_overrides: dict[str, dict[str, float]] = field(default_factory=dict)
    registries: dict[str, tuple[dict[str, Any], ...]] = field(default_factory=dict)
    config_path: Path | None = None
    #: Default origins of notebooks: ``{"kind": "auto" | "villages" | …, "grid_m": 500}``
    #: (see :mod:`accessibility.origins`); empty: ``auto``.
    origins: dict[str, Any] = field(default_factory=dict)
    population: dict[str, Any] = field(default_factory=dict)
    official: dict[str, float] = field(default_factory=dict)
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:  # the name is a folder name (data/, maps/, runs/)
        where = f"region file {self.config_path}" if self.config_path else "region"
        check_path_part(self.name, "region name", where)

    def label(self, lang: str = "zh") -> str:
        """Display name in ``zh`` or ``en``."""
        return self.label_en if lang == "en" else self.label_zh

    def unit(self, code: str) -> Unit:
        """The unit with this code (or name)."""
        for u in self.units:
            if code in (u.code, u.name):
                return u
        known = ", ".join(f"{u.code} {u.name}" for u in self.units) or "none"
        msg = f"region {self.name!r} has no unit {code!r}; its units: {known}"
        raise ValidationError(msg)

    @property
    def per_unit(self) -> bool:
        """Whether runs cover each unit separately (units have boundaries or data of their own)."""
        return len(self.units) > 1 or any(u.boundary or u.source for u in self.units)

    def source_of(self, unit: Unit | None) -> dict[str, Any]:
        """The data source of a unit: its own when it has one, else the region's."""
        return dict(unit.source) if unit is not None and unit.source else dict(self.source)

    def raw_dir_of(self, unit: Unit | None) -> Path:
        """The raw data folder of a unit: ``data/raw/<region>/<code>/`` when it has a
        source of its own, else the region's ``data/raw/<region>/``."""
        if unit is not None and unit.source:
            return self.raw_dir / unit.code
        return self.raw_dir

    def population_raster(self, unit: Unit | None = None) -> Path | None:
        """The population raster the region file names, resolved for a unit: a relative
        path is taken in the unit's raw folder (:meth:`raw_dir_of`). ``None`` when the
        region names none."""
        name = self.population.get("raster") if self.population else None
        if not name:
            return None
        path = Path(str(name)).expanduser()
        return path if path.is_absolute() else self.raw_dir_of(unit) / path

    @property
    def raw_dir(self) -> Path:
        return self._folder(settings.data_raw)

    @property
    def processed_dir(self) -> Path:
        return self._folder(settings.data_processed)

    @property
    def maps_dir(self) -> Path:
        return self._folder(settings.maps_dir)

    def _folder(self, base: Path) -> Path:
        """``base/<region name>``, checked to stay under the project root."""
        return inside_root(base / self.name)


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
    check_path_part(path.stem, "the region name (the file's name)", f"region file {path}")
    try:
        data = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        msg = f"region file {path} is not valid YAML: {exc}"
        raise ValidationError(msg) from exc
    if not isinstance(data, dict):
        msg = f"region file {path} must be a mapping of keys (label_zh, label_en, source…), got {type(data).__name__}"
        raise ValidationError(msg)
    units = tuple(_unit(u, path) for u in data.get("units") or ())
    own_sources = bool(units) and all(u.source for u in units)
    for key in ("label_zh", "label_en", "source"):
        if key not in data and not (key == "source" and own_sources):
            msg = f"region file {path} lacks the key {key!r}"
            raise ValidationError(msg)
    if data.get("source") is not None:
        check_source_spec(data["source"], where=f"region file {path}", strict=False)
    if data.get("boundary"):
        check_boundary_spec(data["boundary"], where=str(path))
    buffer_m = _metres(data, "buffer_m", 2000.0, path)
    max_snap_m = _metres(data, "max_snap_m", settings.max_snap_m, path)
    if buffer_m < 0 or max_snap_m <= 0:
        msg = f"region file {path}: buffer_m must be ≥ 0 and max_snap_m > 0 metres; got {buffer_m:g} and {max_snap_m:g}"
        raise ValidationError(msg)
    if not isinstance(data.get("synthetic", False), bool):
        msg = f"region file {path}: synthetic must be true or false, got {data['synthetic']!r}"
        raise ValidationError(msg)
    _check_speed_overrides(data.get("speed_overrides"), path)
    if "name" in data and str(data["name"]) != path.stem:
        msg = (
            f"region file {path} says name: {data['name']}, but a region is named after its file; "
            f"rename the file to {data['name']}.yml or remove the name key"
        )
        raise ValidationError(msg)
    return Region(
        name=path.stem,
        label_zh=str(data["label_zh"]),
        label_en=str(data["label_en"]),
        synthetic=bool(data.get("synthetic", False)),
        source=dict(data.get("source") or {}),
        boundary=dict(data.get("boundary") or {}),
        buffer_m=buffer_m,
        units=units,
        registries=_registries(data.get("registries") or {}, path),
        max_snap_m=max_snap_m,
        speed_overrides={k: dict(v or {}) for k, v in (data.get("speed_overrides") or {}).items()},
        config_path=path,
        origins=_origins_spec(data.get("origins"), path),
        population=check_population_spec(data.get("population"), where=f"region file {path}"),
        official=check_official(data.get("official"), where=f"region file {path}"),
        claims=check_claims(data.get("claims"), where=f"region file {path}"),
    )


def _metres(data: dict[str, Any], key: str, default: float, path: Path) -> float:
    """A distance in metres from a region file: a finite number (``default`` when absent)."""
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        msg = (
            f"region file {path}: {key} must be a number of metres, e.g. {default:g}; got {value!r}"
        )
        raise ValidationError(msg)
    return float(value)


def _check_speed_overrides(data: Any, path: Path) -> None:
    """``speed_overrides: {mode: {highway class: km/h or 0/null}}``; the modes are
    checked against ``rules/speeds.yml`` where a run starts (:mod:`accessibility.runner`)."""
    example = "speed_overrides: {ebike: {primary: 25}}"
    if data is None:
        return
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        msg = f"region file {path}: speed_overrides maps modes to km/h per highway class, e.g. {example}; got {data!r}"
        raise ValidationError(msg)
    for mode, speeds in data.items():
        for highway, kmh in speeds.items():
            if kmh is None:
                continue
            number = isinstance(kmh, (int, float)) and not isinstance(kmh, bool)
            if not number or not math.isfinite(kmh) or kmh < 0:
                msg = (
                    f"region file {path}: speed_overrides.{mode}.{highway} must be km/h ≥ 0 "
                    f"(0 or null closes the class), e.g. {example}; got {kmh!r}"
                )
                raise ValidationError(msg)


def _origins_spec(data: Any, path: Path) -> dict[str, Any]:
    """``origins: grid`` or ``origins: {kind: grid, grid_m: 250}`` → a checked mapping."""
    from . import origins

    if data is None:
        return {}
    spec = {"kind": data} if isinstance(data, str) else data
    if not isinstance(spec, dict) or "kind" not in spec or set(spec) - {"kind", "grid_m"}:
        msg = f"region file {path}: origins must be a kind ({', '.join(origins.KINDS)}, or a point file) or {{kind: ..., grid_m: ...}}"
        raise ValidationError(msg)
    try:
        origins.check_spec(spec["kind"])
        if "grid_m" in spec and not (isinstance(spec["grid_m"], (int, float)) and spec["grid_m"] > 0):
            msg = f"grid_m must be a positive number of metres, got {spec['grid_m']!r}"
            raise ValidationError(msg)
    except ValidationError as exc:
        msg = f"region file {path}: {exc}"
        raise ValidationError(msg) from exc
    return dict(spec)


def check_boundary_spec(spec: dict[str, Any], *, where: str) -> dict[str, Any]:
    """Validate a boundary specification and return it.

    One of:

    - ``{file: boundary.geojson}`` — a polygon file (GeoJSON, GeoPackage…), relative to
      the region's raw folder;
    - ``{osm: {name: 鄢陵县, admin_level: "6"}}`` — an administrative boundary looked up
      in the OSM extract (or downloaded); ``names`` (a list), ``ref`` also accepted,
      and ``relation`` (the relation's id, besides a name or ref) to tell apart two
      units of the same name;
    - ``{circle: {lon: 113.85, lat: 34.03, radius_m: 8000}}``;
    - ``{bbox: [west, south, east, north]}`` (degrees);

    optionally with ``expand_m``: metres to grow the polygon by (e.g. a district
    plus the built-up edge of its neighbours).
    """
    if not isinstance(spec, dict):
        msg = f"{where}: a boundary must be a mapping like {{file: boundary.geojson}}, got {spec!r}"
        raise ValidationError(msg)
    kinds = [k for k in BOUNDARY_KINDS if k in spec]
    unknown = sorted(set(spec) - set(BOUNDARY_KINDS) - {"expand_m"})
    if len(kinds) != 1 or unknown:
        msg = f"{where}: a boundary needs exactly one of {', '.join(BOUNDARY_KINDS)} (plus optional expand_m); got {sorted(spec)}"
        raise ValidationError(msg)
    kind = kinds[0]
    value = spec[kind]
    ok = {
        "file": isinstance(value, str) and bool(value),
        "osm": isinstance(value, dict) and bool({"name", "names", "ref"} & set(value)),
        "circle": isinstance(value, dict) and {"lon", "lat", "radius_m"} <= set(value),
        "bbox": isinstance(value, (list, tuple)) and len(value) == 4,
    }[kind]
    if not ok:
        examples = {
            "file": "{file: boundary.geojson}",
            "osm": '{osm: {name: 鄢陵县, admin_level: "6"}}',
            "circle": "{circle: {lon: 113.85, lat: 34.03, radius_m: 8000}}",
            "bbox": "{bbox: [113.7, 33.9, 114.0, 34.1]}",
        }
        msg = f"{where}: boundary {kind!r} is malformed ({value!r}); write it like {examples[kind]}"
        raise ValidationError(msg)
    relation = value.get("relation") if kind == "osm" else None
    if relation is not None and (
        isinstance(relation, bool) or not isinstance(relation, int) or relation <= 0
    ):
        msg = (
            f"{where}: boundary osm relation must be the relation's id, a whole number > 0, "
            f'e.g. {{osm: {{name: 鄢陵县, admin_level: "6", relation: 3078386}}}}; got {relation!r}'
        )
        raise ValidationError(msg)
    if float(spec.get("expand_m", 0)) < 0:
        msg = f"{where}: expand_m must be ≥ 0 metres"
        raise ValidationError(msg)
    return spec


def check_source_spec(spec: Any, *, where: str, strict: bool = True) -> dict[str, Any]:
    """Validate a data source specification and return it.

    One of:

    - ``{kind: sample, seed: 11}`` — a synthetic county generated by
      :mod:`accessibility.sources.sample` (``seed``: a non-negative integer; a
      region-level source may omit it and gets the default 2023);
    - ``{kind: osm_file, path: county.osm.pbf}`` — a local extract, relative to the
      raw folder;
    - ``{kind: overpass}`` — downloaded from Overpass (cached in the raw folder).

    Parameters
    ----------
    spec
        The ``source`` value read from a region file.
    where
        What to name in error messages (file and unit).
    strict
        Whether a ``sample`` source must give its seed and unknown keys are refused
        (units' sources are strict, so that two units never silently share a
        county; a region's own source is checked leniently, as it always was).
    """
    if not isinstance(spec, dict) or spec.get("kind") not in SOURCE_KINDS:
        kind = spec.get("kind") if isinstance(spec, dict) else spec
        msg = (
            f"{where}: unknown data source {kind!r}; the source kind is one of "
            f"{', '.join(SOURCE_KINDS)}, e.g. source: {{kind: sample, seed: 11}}"
        )
        raise ValidationError(msg)
    kind = spec["kind"]
    unknown = sorted(set(spec) - {"kind", *SOURCE_KINDS[kind]})
    if unknown and strict:
        allowed = ", ".join(SOURCE_KINDS[kind]) or "nothing"
        msg = f"{where}: a {kind} source takes {allowed} besides kind; remove {unknown}"
        raise ValidationError(msg)
    if kind == "sample" and (strict or "seed" in spec):
        seed = spec.get("seed")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            msg = f"{where}: a sample source needs an integer seed ≥ 0, e.g. {{kind: sample, seed: 11}}; got seed {seed!r}"
            raise ValidationError(msg)
    if kind == "osm_file" and not (isinstance(spec.get("path"), str) and spec["path"]):
        msg = f"{where}: an osm_file source needs the path of the extract, e.g. {{kind: osm_file, path: county.osm.pbf}}"
        raise ValidationError(msg)
    return spec


#: Keys a ``population:`` entry of a region file takes.
POPULATION_KEYS: tuple[str, ...] = ("raster", "band")
#: File endings accepted for a population raster.
RASTER_SUFFIXES: tuple[str, ...] = (".tif", ".tiff")


def check_population_spec(spec: Any, *, where: str) -> dict[str, Any]:
    """Validate the ``population`` entry of a region file and return it (``{}`` when absent).

    ``{raster: worldpop_chn_2020.tif}`` names a GeoTIFF of persons per cell (WorldPop,
    GHS-POP…, any CRS), relative to ``data/raw/<region>/`` (a unit's raw folder for a
    unit with data of its own) or absolute; ``band`` (default 1) picks the band.
    Whether the file exists is checked when it is read, as generated data appear
    only when a study is prepared.
    """
    if spec is None or spec == {}:
        return {}
    example = "population: {raster: worldpop_chn_2020.tif}"
    if not isinstance(spec, dict):
        msg = f"{where}: population must be a mapping like {example}, got {spec!r}"
        raise ValidationError(msg)
    unknown = sorted(set(spec) - set(POPULATION_KEYS))
    if unknown:
        msg = f"{where}: population takes {', '.join(POPULATION_KEYS)}; remove {unknown} (e.g. {example})"
        raise ValidationError(msg)
    raster = spec.get("raster")
    if not isinstance(raster, str) or not raster.strip():
        msg = (
            f"{where}: population needs the raster file name, e.g. {example}; got raster {raster!r}"
        )
        raise ValidationError(msg)
    if not raster.lower().endswith(RASTER_SUFFIXES):
        msg = f"{where}: population raster {raster!r} must be a GeoTIFF ({', '.join(RASTER_SUFFIXES)})"
        raise ValidationError(msg)
    band = spec.get("band", 1)
    if isinstance(band, bool) or not isinstance(band, int) or band < 1:
        msg = f"{where}: population band must be an integer ≥ 1 (the band holding persons per cell); got {band!r}"
        raise ValidationError(msg)
    return {"raster": raster.strip(), "band": band}


def _registries(data: Any, path: Path) -> dict[str, tuple[dict[str, Any], ...]]:
    if not isinstance(data, dict) or set(data) - {"facilities", "villages"}:
        msg = f"{path}: 'registries' takes 'facilities' and/or 'villages' lists, got {data!r}"
        raise ValidationError(msg)
    from .sources import registry  # its options and their allowed values live there

    out: dict[str, tuple[dict[str, Any], ...]] = {}
    for what, entries in data.items():
        entries = entries or []
        if not isinstance(entries, list):
            msg = f"{path}: registries.{what} must be a list of entries like {{file: schools.csv, datum: gcj02}}"
            raise ValidationError(msg)
        where = f"region file {path}"
        out[what] = tuple(registry.check_entry(e, what=what, where=where) for e in entries)
    return out


def _unit(data: dict[str, Any], path: Path) -> Unit:
    if not isinstance(data, dict) or "code" not in data or "name" not in data:
        msg = f'{path}: every unit needs a code and a name, e.g. {{code: "411024", name: 鄢陵县}}; got {data!r}'
        raise ValidationError(msg)
    boundary = dict(data.get("boundary") or {})
    if boundary:
        check_boundary_spec(boundary, where=f"{path} unit {data['code']}")
    source = data.get("source")
    if source is not None:
        source = dict(check_source_spec(source, where=f"{path} unit {data['code']}"))
    return Unit(
        code=check_path_part(data["code"], "unit code", str(path)),  # with the file's name
        name=str(data["name"]),
        name_en=str(data.get("name_en", "")),
        kind=str(data.get("kind", "")),
        boundary=boundary,
        seat=str(data.get("seat", "")),
        source=source or {},
        official=check_official(data.get("official"), where=f"{path} unit {data['code']}"),
        prefecture=str(data.get("prefecture") or "").strip(),
        prefecture_en=str(data.get("prefecture_en") or "").strip(),
    )


def _claims_rules() -> dict[str, Any]:
    from importlib import resources

    text = resources.files("accessibility.rules").joinpath("claims.yml").read_text("utf-8")
    return yaml.safe_load(text) or {}


def check_official(spec: Any, *, where: str) -> dict[str, float]:
    """Official counts: a mapping of known keys (``rules/claims.yml``) to counts ≥ 0."""
    if spec is None:
        return {}
    known = list(_claims_rules().get("official") or {})
    if not isinstance(spec, dict):
        msg = f"{where}: official must map counts, e.g. {{townships: 75, county_libraries: 12}}; keys: {', '.join(known)}"
        raise ValidationError(msg)
    out = {}
    for key, value in spec.items():
        if key not in known:
            msg = f"{where}: unknown official count {key!r}; use {', '.join(known)}"
            raise ValidationError(msg)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            msg = f"{where}: official.{key} must be a number ≥ 0, got {value!r}"
            raise ValidationError(msg)
        out[str(key)] = float(value)
    return out


def check_claims(spec: Any, *, where: str) -> dict[str, dict[str, Any]]:
    """Targets replacing those of ``rules/claims.yml``: ``{<claim>: {target: 0.9}}``."""
    if spec is None:
        return {}
    known = list(_claims_rules().get("claims") or {})
    if not isinstance(spec, dict):
        msg = f"{where}: claims must map claim keys to {{target: ...}}; claims: {', '.join(known)}"
        raise ValidationError(msg)
    out = {}
    for key, value in spec.items():
        if key not in known:
            msg = f"{where}: unknown claim {key!r}; claims: {', '.join(known)}"
            raise ValidationError(msg)
        target = value.get("target") if isinstance(value, dict) else None
        if not isinstance(value, dict) or set(value) - {"target"} or isinstance(target, bool) or not isinstance(target, (int, float)) or target < 0:
            msg = f"{where}: claims.{key} takes only target, a number ≥ 0 (a share 0–1 or a count), got {value!r}"
            raise ValidationError(msg)
        out[str(key)] = {"target": float(target)}
    return out


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
    check_degrees(boundary, "boundary")
    c = boundary.centroid
    lon, lat = float(c.x), float(c.y)
    zone = min(math.floor((lon + 180) / 6) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


# ------------------------------------------------------------ region files from an extract

#: Buffer written into a region file made by :func:`from_extract`, metres.
FROM_EXTRACT_BUFFER_M = 2000


def from_extract(
    src: Path | str,
    *,
    parent: str,
    name: str,
    level: str = "6",
    parent_level: str = "4",
    force: bool = False,
) -> tuple[Region, ProvinceUnits]:
    """Write ``regions/<name>.yml`` listing every unit of ``level`` inside ``parent``.

    The units are those of :func:`accessibility.sources.province.find_units` (sorted by
    code, then name); each gets its name, English name (when OSM has ``name:en``), code
    and a boundary looked up by name, level and relation id in the extract
    (``{osm: {name: 鄢陵县, admin_level: "6", relation: 3078386}}``), so that each unit
    is cut from the same extract, and the prefecture it lies in (``prefecture: 许昌市``,
    ``prefecture_en`` when OSM has ``name:en``; none for a unit that no boundary of
    the level between covers). A unit whose OSM tags hold no usable code gets
    ``r<relation id>`` (a code is a folder name), to be replaced by hand; units left
    out are listed, with the reason, in comments at the top of the file. The region's
    source is the extract (``{kind: osm_file, path: ...}``: relative when the extract
    lies in ``data/raw/<name>/``, else absolute) and its boundary the parent's.

    Parameters
    ----------
    src
        OSM extract holding the parent and its units (see ``find_units``).
    parent, parent_level, level
        As :func:`accessibility.sources.province.find_units`.
    name
        The region's name: the file's name, and its folder under ``data/``, ``maps/``.
    force
        Replace an existing ``regions/<name>.yml``.

    Returns
    -------
    tuple
        The region as read back from the written file, and what was found.

    Raises
    ------
    ValidationError
        ``name`` is not a folder name, the file exists and ``force`` is false, the
        parent is unknown or ambiguous, or no unit lies inside it.
    DataSourceError
        The extract is missing or unreadable, or the parent's boundary is incomplete.
    """
    from .sources import province

    check_path_part(name, "region name", "--name")
    path = settings.regions_dir / f"{name}.yml"
    if path.exists() and not force:
        msg = f"{path} exists; pass --force to replace it, or choose another --name"
        raise ValidationError(msg)
    src = Path(src).expanduser().resolve()
    found = province.find_units(src, parent=parent, parent_level=parent_level, level=level)
    if found.units.empty:
        msg = (
            f"no admin_level {found.level} unit with a complete boundary lies inside "
            f"{found.parent['name']} (r{found.parent['osm_id']}) in {src}; "
            "check --level (6: county-level units), or use an extract that covers them"
        )
        raise ValidationError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{secrets.token_hex(4)}.{path.name}.part")
    try:
        tmp.write_text(_region_text(found, src=src, name=name), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return load(name), found


def _region_text(found: ProvinceUnits, *, src: Path, name: str) -> str:
    """The YAML text of a region file for ``found`` (see :func:`from_extract`)."""
    parent = found.parent
    raw = (settings.data_raw / name).resolve()
    source_path = str(src.relative_to(raw)) if src.is_relative_to(raw.resolve()) else str(src)
    codes = [str(c) for c in found.units["code"]]
    doubled = {c for c in codes if c and codes.count(c) > 1}
    units = []
    placeholders = []
    for row in found.units.itertuples():
        code = str(row.code)
        if not code or code in doubled:
            placeholders.append(f"r{row.osm_id} {row.name}" + (f" (code {code} twice)" if code else ""))
            code = f"r{row.osm_id}"
        unit: dict[str, Any] = {"code": code, "name": row.name}
        if row.name_en:
            unit["name_en"] = row.name_en
        if row.prefecture:
            unit["prefecture"] = row.prefecture
            if row.prefecture_en:
                unit["prefecture_en"] = row.prefecture_en
        unit["boundary"] = {
            "osm": {"name": row.name, "admin_level": found.level, "relation": int(row.osm_id)}
        }
        units.append(unit)
    data = {
        "label_zh": parent["name"],
        "label_en": parent["name_en"] or parent["name"],
        "synthetic": False,
        "source": {"kind": "osm_file", "path": source_path},
        "boundary": {
            "osm": {
                "name": parent["name"],
                "admin_level": parent["admin_level"],
                "relation": parent["osm_id"],
            }
        },
        "buffer_m": FROM_EXTRACT_BUFFER_M,
        "units": units,
    }
    head = [
        f"# {parent['name']} (relation {parent['osm_id']}, admin_level {parent['admin_level']}): "
        f"its {len(units)} admin_level {found.level} units",
        f"# found in {src.name}, written by `accessibility regions from-extract`.",
        "# Each unit's boundary is its OSM relation in the extract; replace any with a file",
        f"# of your own: boundary: {{file: x.geojson}} (relative to data/raw/{name}/).",
    ]
    if placeholders:
        head += [
            "#",
            f"# {len(placeholders)} unit(s) have no usable code in OSM and are coded r<relation id>;",
            "# replace it with the GB/T 2260 code (codes name folders under data/, maps/, runs/):",
            *(f"#   {p}" for p in placeholders),
        ]
    if found.left_out:
        head += [
            "#",
            f"# Left out ({len(found.left_out)}): add them by hand, or use an extract that covers them:",
            *(f"#   r{r['osm_id']} {r['name']}: {r['reason']}" for r in found.left_out),
        ]
    body = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=None, width=100)
    return "\n".join(head) + "\n" + body
