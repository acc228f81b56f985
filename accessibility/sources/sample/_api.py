"""The public entry points: :func:`generate` builds the county for a seed and writes
its four files atomically (``meta.json`` last); :func:`ensure` does so only when the
files are missing or were made from another seed or generator version."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from pathlib import Path

import numpy as np

from ..._errors import ValidationError
from ._builder import _Builder
from ._constants import (
    BOUNDARY_FILENAME,
    DEFAULT_SEED,
    GENERATOR_VERSION,
    META_FILENAME,
    OSM_FILENAME,
    POPULATION_FILENAME,
    SampleFiles,
)
from ._writing import _population_raster, _render

logger = logging.getLogger(__package__)


def generate(out_dir: Path | str, *, seed: int = DEFAULT_SEED) -> SampleFiles:
    """Write the sample county files into ``out_dir``.

    Each file is written atomically (a temporary file in the same folder, then
    :func:`os.replace`); ``meta.json`` is written last, so its presence means the
    set is complete.

    Parameters
    ----------
    out_dir
        Folder to write into; created if missing.
    seed
        Seed of the random generator (a non-negative integer). The same seed
        always gives byte-identical files; another seed gives another county.

    Returns
    -------
    SampleFiles
        Paths of the three files.

    Raises
    ------
    ValidationError
        If ``seed`` is not a non-negative integer.
    """
    seed = _check_seed(seed)
    files = _paths(Path(out_dir))
    files.osm.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    county = _Builder(seed)
    county.build()
    osm_bytes, boundary_bytes, meta = _render(county)
    raster_bytes, raster_meta = _population_raster(county)
    _atomic_write(files.osm, osm_bytes)
    _atomic_write(files.boundary, boundary_bytes)
    _atomic_write(files.population, raster_bytes)
    meta["files"]["population"] = POPULATION_FILENAME
    meta["population_raster"] = raster_meta
    meta["osm_sha256"] = hashlib.sha256(osm_bytes).hexdigest()
    _atomic_write(
        files.meta, (json.dumps(meta, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    )
    counts = meta["counts"]
    logger.info(
        "sample county (synthetic, seed %d) written to %s: %d nodes, %d ways, %d villages, "
        "%.1f MB in %.1f s",
        seed,
        files.osm.parent,
        counts["nodes"],
        counts["ways"],
        counts["villages"],
        len(osm_bytes) / 1e6,
        time.perf_counter() - started,
    )
    return files


def ensure(out_dir: Path | str, *, seed: int = DEFAULT_SEED) -> SampleFiles:
    """Return the sample county files in ``out_dir``, generating them only when needed.

    The files are (re)generated when any of them is missing, when ``meta.json``
    cannot be read, or when its ``seed`` or ``generator_version`` differs from the
    requested seed and :data:`GENERATOR_VERSION`. Otherwise nothing is written.

    Parameters
    ----------
    out_dir
        Folder holding (or to hold) the files.
    seed
        Seed of the random generator (a non-negative integer).

    Returns
    -------
    SampleFiles
        Paths of the three files.
    """
    seed = _check_seed(seed)
    files = _paths(Path(out_dir))
    if all(p.is_file() for p in (files.osm, files.boundary, files.population, files.meta)):
        try:
            meta = json.loads(files.meta.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            meta = {}
        if (
            isinstance(meta, dict)
            and meta.get("seed") == seed
            and meta.get("generator_version") == GENERATOR_VERSION
        ):
            logger.debug("sample county in %s is up to date (seed %d)", files.osm.parent, seed)
            return files
        logger.info(
            "sample county in %s is stale (seed or generator version differs)", files.osm.parent
        )
    return generate(out_dir, seed=seed)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or int(seed) < 0:
        msg = f"seed must be a non-negative integer, got {seed!r}; pass e.g. seed=2023"
        raise ValidationError(msg)
    return int(seed)


def _paths(out_dir: Path) -> SampleFiles:
    return SampleFiles(
        osm=out_dir / OSM_FILENAME,
        boundary=out_dir / BOUNDARY_FILENAME,
        meta=out_dir / META_FILENAME,
        population=out_dir / POPULATION_FILENAME,
    )


def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file next to ``path``, then rename it over ``path``.

    The temporary file is created with ordinary permissions (the process umask
    applies), unlike :func:`tempfile.mkstemp`'s owner-only files."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
