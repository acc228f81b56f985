"""One settings object for the whole package.

Paths are resolved from the project root, which is, in order: the value set on
:data:`settings` (``settings.root = ...``), the ``ACCESSIBILITY_ROOT``
environment variable, or the nearest parent of the working directory that has a
``pyproject.toml`` and a ``notebooks/`` folder (the repository), else the
working directory itself.

Tests and the command line override values by assignment or with
:func:`configure`; library code reads them at call time, never at import time.

Progress bars come from :func:`progress_bar`: text bars in a terminal, widget bars in
a notebook that can draw them, and none in a notebook run unattended (the runner sets
``ACCESSIBILITY_PROGRESS=0`` for the kernels it starts, so an executed copy holds no
bar and no tqdm warning).

The Overpass deadlines (per query and per region) and endpoint follow the same pattern
as the root: the value set here, else the environment
(``ACCESSIBILITY_OVERPASS_DEADLINE_S``, ``ACCESSIBILITY_OVERPASS_REGION_DEADLINE_S``,
``ACCESSIBILITY_OVERPASS_URL``), else the default. The runner passes values set here to
the kernels it starts through those variables.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

from ._errors import ValidationError

#: Environment variable that turns progress bars off ("0") in processes it is set for.
PROGRESS_ENV = "ACCESSIBILITY_PROGRESS"
#: Environment variable giving :attr:`Settings.overpass_deadline_s` to processes
#: (kernels, batch workers) that do not share this one's settings.
OVERPASS_DEADLINE_ENV = "ACCESSIBILITY_OVERPASS_DEADLINE_S"
#: Environment variable giving :attr:`Settings.overpass_region_deadline_s` to other processes.
OVERPASS_REGION_DEADLINE_ENV = "ACCESSIBILITY_OVERPASS_REGION_DEADLINE_S"
#: Environment variable giving :attr:`Settings.overpass_url` to other processes.
OVERPASS_URL_ENV = "ACCESSIBILITY_OVERPASS_URL"
#: Seconds an Overpass query may go unanswered, retries and waits included (default).
DEFAULT_OVERPASS_DEADLINE_S = 180.0
#: Seconds all the Overpass queries made to prepare one region or unit may take together.
DEFAULT_OVERPASS_REGION_DEADLINE_S = 900.0
#: The Jupyter kernel every notebook names in its metadata: the runner starts it and
#: ``make lab`` (:mod:`accessibility.lab`) registers it for this environment's Python.
KERNEL_NAME: Final = "python3"


def _find_root(start: Path) -> Path:
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return start


@dataclass
class Settings:
    """Package-wide settings.

    Attributes
    ----------
    root
        Project root; ``data/``, ``maps/``, ``runs/`` and ``regions/`` live under it.
        ``None`` means "find it" (see the module docstring).
    progress
        Show tqdm progress bars on long steps.
    max_snap_m
        Points farther than this many metres from the nearest road edge are
        flagged ``far`` in every result (they are still routed, never dropped).
    walk_speed_kmh
        Speed of the straight off-network leg between a point and its snapped
        position on the network, in km/h, whatever the travel mode.
    overpass_deadline_s
        Seconds an Overpass query (a boundary, a region's data, one tile of a large
        area) may take before it fails, retries and waits included; ``None`` means
        the ``ACCESSIBILITY_OVERPASS_DEADLINE_S`` environment variable, else
        :data:`DEFAULT_OVERPASS_DEADLINE_S` (see :attr:`overpass_deadline`). A
        download that is receiving data is not cut.
    overpass_region_deadline_s
        Seconds all the Overpass queries made while preparing one region or unit
        (its boundary, its data, every tile) may take together; cached answers cost
        nothing. Each query's deadline is the smaller of :attr:`overpass_deadline`
        and what is left of this total. ``None`` means the
        ``ACCESSIBILITY_OVERPASS_REGION_DEADLINE_S`` environment variable, else
        :data:`DEFAULT_OVERPASS_REGION_DEADLINE_S` (see
        :attr:`overpass_region_deadline`).
    overpass_url
        Overpass API base URL (``…/api``); ``None`` means the
        ``ACCESSIBILITY_OVERPASS_URL`` environment variable, else
        ``osmnx.settings.overpass_url``.
    """

    root: Path | None = None
    progress: bool = True
    max_snap_m: float = 300.0
    walk_speed_kmh: float = 4.5
    overpass_deadline_s: float | None = None
    overpass_region_deadline_s: float | None = None
    overpass_url: str | None = None

    @property
    def overpass_deadline(self) -> float:
        """The Overpass deadline in force, seconds (see :attr:`overpass_deadline_s`)."""
        return _seconds_setting(
            self.overpass_deadline_s,
            "overpass_deadline_s",
            OVERPASS_DEADLINE_ENV,
            DEFAULT_OVERPASS_DEADLINE_S,
        )

    @property
    def overpass_region_deadline(self) -> float:
        """The total for a region's Overpass queries in force, seconds (see
        :attr:`overpass_region_deadline_s`)."""
        return _seconds_setting(
            self.overpass_region_deadline_s,
            "overpass_region_deadline_s",
            OVERPASS_REGION_DEADLINE_ENV,
            DEFAULT_OVERPASS_REGION_DEADLINE_S,
        )

    @property
    def project_root(self) -> Path:
        if self.root is not None:
            return Path(self.root).resolve()
        env = os.environ.get("ACCESSIBILITY_ROOT")
        if env:
            return Path(env).resolve()
        return _find_root(Path.cwd().resolve())

    @property
    def data_raw(self) -> Path:
        return self.project_root / "data" / "raw"

    @property
    def data_processed(self) -> Path:
        return self.project_root / "data" / "processed"

    @property
    def maps_dir(self) -> Path:
        return self.project_root / "maps"

    @property
    def runs_dir(self) -> Path:
        return self.project_root / "runs"

    @property
    def regions_dir(self) -> Path:
        return self.project_root / "regions"


settings = Settings()

#: What a value that becomes a file or folder name may hold.
_PATH_PART: Final[re.Pattern[str]] = re.compile(r"[A-Za-z0-9_-]+")


def check_path_part(value: object, what: str, where: str) -> str:
    """``value`` as a file or folder name: ASCII letters, digits, ``_`` and ``-`` only.

    Region names and unit codes become folders under ``data/``, ``maps/`` and
    ``runs/``; a ``..``, a ``/`` or a space in one (from a region file, the command
    line or an OSM tag) must not reach a path.

    Raises
    ------
    ValidationError
        Naming the value, what it is and where it came from.
    """
    text = str(value)
    if not _PATH_PART.fullmatch(text):
        msg = (
            f"{where}: {what} {text!r} may hold only letters, digits, '_' and '-' "
            "(it becomes a folder name), e.g. 411024"
        )
        raise ValidationError(msg)
    return text


def check_seconds(value: object, where: str) -> float:
    """A duration in seconds: a finite number > 0 (text such as ``"60"`` is read)."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds <= 0:
        msg = f"{where} must be a number of seconds > 0, e.g. 180; got {value!r}"
        raise ValidationError(msg)
    return seconds


def _seconds_setting(value: object, name: str, env: str, default: float) -> float:
    """A duration setting: the value set, else the environment variable ``env``, else
    ``default``; checked by :func:`check_seconds`, naming where a bad value came from."""
    if value is not None:
        return check_seconds(value, f"settings.{name}")
    return check_seconds(os.environ.get(env) or default, f"environment variable {env}")


def inside_root(path: Path | str) -> Path:
    """``path`` made absolute and normalised, after checking it stays under the project root.

    The check is on the path as written (``..`` resolved, symbolic links kept), so
    a ``data/`` folder linked to another disk still works.

    Raises
    ------
    ValidationError
        The path leads outside the project root.
    """
    root = Path(os.path.normpath(settings.project_root))
    full = Path(os.path.normpath(root / Path(path)))
    if full != root and root not in full.parents:
        msg = f"{path} is outside the project root {root}; nothing is written there"
        raise ValidationError(msg)
    return full


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (a notebook, or papermill running one)."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_bar(*, show: bool | None = None, **options: Any) -> Any:
    """A tqdm progress bar that suits where the code runs.

    Off when ``show`` is false (default: ``settings.progress``) or the environment has
    ``ACCESSIBILITY_PROGRESS=0``; in a Jupyter kernel, a widget bar when ipywidgets is
    installed, else a text bar (never tqdm's "IProgress not found" warning); elsewhere
    a text bar. ``options`` go to tqdm (``total``, ``desc``, ``unit``...).
    """
    on = settings.progress if show is None else show
    on = bool(on) and os.environ.get(PROGRESS_ENV, "1") != "0"
    if on and _in_kernel() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as widget_bar

        return widget_bar(disable=False, **options)
    from tqdm.std import tqdm as text_bar

    return text_bar(disable=not on, **options)


def configure(**values: object) -> Settings:
    """Set several settings at once and return the settings object.

    Raises ``AttributeError`` for a name that is not a setting, so a typo does
    not pass silently.
    """
    for name, value in values.items():
        if name.startswith("_") or not hasattr(settings, name):
            known = ", ".join(f.name for f in fields(Settings))
            msg = f"unknown setting {name!r}; known: {known}"
            raise AttributeError(msg)
        setattr(settings, name, value)
    return settings
