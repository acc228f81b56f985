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
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Environment variable that turns progress bars off ("0") in processes it is set for.
PROGRESS_ENV = "ACCESSIBILITY_PROGRESS"


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
    """

    root: Path | None = None
    progress: bool = True
    max_snap_m: float = 300.0
    walk_speed_kmh: float = 4.5

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
            msg = f"unknown setting {name!r}; known: root, progress, max_snap_m, walk_speed_kmh"
            raise AttributeError(msg)
        setattr(settings, name, value)
    return settings
