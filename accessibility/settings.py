"""One settings object for the whole package.

Paths are resolved from the project root, which is, in order: the value set on
:data:`settings` (``settings.root = ...``), the ``ACCESSIBILITY_ROOT``
environment variable, or the nearest parent of the working directory that has a
``pyproject.toml`` and a ``notebooks/`` folder (the repository), else the
working directory itself.

Tests and the command line override values by assignment or with
:func:`configure`; library code reads them at call time, never at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
