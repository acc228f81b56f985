"""Every notebook for every unit of a region, unattended: parallel, resumable, failure-isolated.

Design
------
In:  a region, notebook names (default: all), parameters common to them, and where to
     run: a local Dask cluster sized to this machine (default) or an existing
     ``dask.distributed`` scheduler (``scheduler="tcp://host:8786"``; its workers must
     see the same project root, e.g. on a shared disk, and have this package installed).
Out: per run (unit × notebook), under ``runs/<region>/[<unit>/]``: the executed notebook
     ``<nb>.ipynb`` (up to the failing cell when it fails), a log ``<nb>.log`` and a
     manifest ``<nb>.manifest.json`` (inputs and their digest, status, error, outputs with
     sizes and SHA-256, timings, the kernel's peak memory, key figures, and
     ``warnings``: the sections the notebook skipped and why, from the ``warnings`` of
     its ``<nb>_figures.json`` — such a run is ``ok`` with warnings — and its
     ``verdicts`` on the report's claims); per batch,
     ``runs/<region>/batch.json`` and the index page ``maps/<region>/index.html``.

How
---
* **Plan.** One task per unit and notebook. A task's *inputs* are the package version
  and a digest of its code, the notebook's source, the region file, the region's raw
  data (files under ``data/raw/<region>/``, except the Overpass download cache, which is
  keyed by its query, and other units' folders), an ``osm_file`` and the parameters.
  Their digest decides what runs: a task whose last manifest says ``ok`` for the same
  digest and whose outputs are all present with the recorded sizes and hashes is
  skipped (``force=True`` runs it anyway; ``retry_failed=True`` runs only the tasks
  whose last run failed).
* **Clips ahead.** Units of a local extract (source ``osm_file`` or an ``osm_file``
  parameter) whose clip is not cached are clipped together in one pass before the
  runs start (:func:`clip_ahead`), when there are at least two; each run's
  ``clip_cached`` then finds its own. A failure there only costs the time: the runs
  clip what is missing, as before.
* **Order.** The first task of each unit runs alone (it downloads, clips or generates
  the unit's data once); the unit's other notebooks follow it and read the caches.
  Units run side by side. A task goes to the cluster only when a worker is free, so
  a task not submitted has not started.
* **A silent Overpass server.** Once a run fails because the Overpass server gave no
  answer (``error_type`` ``ServerUnreachableError``), the tasks not started yet that
  would download from it (source ``overpass``, no ``osm_file``) are not started:
  each is recorded as failed with ``error_type`` :data:`NOT_RUN` and an error saying
  how to work from a local extract. Runs under way finish at their own deadline.
* **Isolation.** Each task runs in a Dask worker (one thread) that starts a kernel; any
  failure — an error in a cell, a dead kernel, a cell over ``timeout_s``, a worker
  lost — is recorded in that task's manifest, and the others go on. The manifest is
  written as ``running`` before the kernel starts and replaced when it ends, so a
  killed batch leaves ``running`` (shown as interrupted), never a manifest that looks
  complete. Every map and table is written to a temporary file and renamed.
* **No oversubscription.** One thread per worker and one kernel per worker; numeric
  libraries in the kernels are limited to one thread; the default number of workers is
  the number of cores, fewer when memory is short (:data:`MEMORY_PER_RUN_GB`).

Tests: ``tests/test_batch.py`` — several synthetic counties on a two-worker local
cluster: outputs and manifests complete; a corrupt unit fails alone; a killed batch,
rerun, finishes only what was missing; ``scheduler=`` against a test-started cluster;
a unit the Overpass server gives no answer starts no other unit that needs it.
``tests/test_batch_preclip.py`` — the clips made ahead in one pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__, regions, runner
from ._errors import ServerUnreachableError, ValidationError
from .export import read_verdicts, read_warnings
from .settings import settings

log = logging.getLogger(__name__)

#: Version of the manifest format.
MANIFEST_FORMAT = 1
#: Memory a county run may need (GB); the default number of local workers respects it.
MEMORY_PER_RUN_GB = 2.0
#: Fewest units without a cached clip of one extract that a batch clips in one pass
#: before its runs start (:func:`clip_ahead`); one unit is clipped by its own run.
PRECLIP_MIN_UNITS = 2
#: Environment of every kernel: numeric libraries use one thread each.
ONE_THREAD = {
    name: "1"
    for name in (
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "NUMBA_NUM_THREADS",
    )
}

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_RUNNING = "running"
STATUS_MISSING = "missing"
#: ``error_type`` of a run not started because the Overpass server gave an earlier
#: run no answer (its status is ``failed``).
NOT_RUN = "not_run_without_overpass"


@dataclass(frozen=True, eq=False)
class Task:
    """One notebook for one unit (``unit=None``: a region analysed as a whole).

    Tasks compare by identity: a batch keeps one object per planned run.
    """

    region: str
    unit: str | None
    notebook: str
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @property
    def sub(self) -> Path:
        """Folder of the run below ``runs/``, ``maps/`` and ``data/processed/``."""
        return Path(self.region, self.unit) if self.unit is not None else Path(self.region)

    @property
    def label(self) -> str:
        return f"{self.sub.as_posix()}/{self.notebook}"

    def manifest_path(self, root: Path) -> Path:
        return root / "runs" / self.sub / f"{self.notebook}.manifest.json"

    def executed_path(self, root: Path) -> Path:
        return root / "runs" / self.sub / f"{self.notebook}.ipynb"

    def log_path(self, root: Path) -> Path:
        return root / "runs" / self.sub / f"{self.notebook}.log"


@dataclass
class BatchReport:
    """What a batch did.

    Attributes
    ----------
    manifests
        The manifest of every planned task (``status`` ``missing`` for a task never run),
        in plan order.
    ran, skipped
        Labels (``region/unit/notebook``) of the tasks run now and of those skipped as
        up to date (or, with ``retry_failed``, not failed).
    failed
        Labels of the planned tasks that are not ``ok`` now: failed (now or before),
        interrupted, or never run (possible with ``retry_failed``).
    index
        The index page.
    seconds
        Wall time of the batch.
    """

    manifests: list[dict[str, Any]]
    ran: list[str]
    skipped: list[str]
    failed: list[str]
    index: Path | None
    seconds: float

    @property
    def exit_code(self) -> int:
        """Number of planned runs that are not ok, capped at 100 (0: every run is ok)."""
        return min(len(self.failed), 100)


# --------------------------------------------------------------------------- planning
def plan(
    region: str | regions.Region,
    notebooks: Sequence[str] | None = None,
    *,
    units: Sequence[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> list[Task]:
    """The tasks of a batch, unit by unit, notebooks in the order given.

    Parameters
    ----------
    region
        Region name or loaded region.
    notebooks
        Notebook names; ``None`` means every notebook in ``notebooks/``.
    units
        Codes or names of some units; ``None`` means every unit of a region whose units
        have their own boundaries, else the region as a whole.
    parameters
        Parameters for every notebook (each is validated against every notebook's
        ``parameters`` cell before anything runs).

    Raises
    ------
    ValidationError
        For an unknown notebook, unit or parameter, or a repeated notebook.
    """
    reg = regions.load(region) if isinstance(region, str) else region
    names = list(notebooks) if notebooks else runner.notebooks()
    if len(set(names)) != len(names):
        msg = f"notebooks repeat in {names}"
        raise ValidationError(msg)
    params: dict[str, Any] = {}
    for name in names:
        params = runner.validate(name, {**(parameters or {}), "region": reg.name})
    if units:
        codes: list[str | None] = [reg.unit(u).code for u in units]
    elif reg.per_unit:
        codes = [u.code for u in reg.units]
    else:
        codes = [None]
    return [Task(reg.name, code, name, params) for code in codes for name in names]


# --------------------------------------------------------------------------- digests
def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def file_digest(path: Path, cache_dir: Path | None = None) -> str:
    """SHA-256 of a file, remembered in ``cache_dir`` by path, size and modification time.

    A large extract (hundreds of MB) is hashed once, not at every batch.
    """
    path = Path(path)
    if cache_dir is None:
        return _sha256_file(path)
    st = path.stat()
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()
    entry = cache_dir / f"{key}.json"
    stamp = [st.st_size, st.st_mtime_ns]
    try:
        cached = json.loads(entry.read_text(encoding="utf-8"))
        if cached.get("stamp") == stamp:
            return str(cached["sha256"])
    except (OSError, ValueError, KeyError, AttributeError):
        pass
    digest = _sha256_file(path)
    _write_json_atomic(entry, {"path": str(path), "stamp": stamp, "sha256": digest})
    return digest


def code_digest() -> str:
    """Digest of the package's code and rule files as they are on disk now (a change reruns every task)."""
    top = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for path in sorted(top.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".yml", ".yaml", ".html", ".json"):
            h.update(path.relative_to(top).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _data_files(reg: regions.Region, unit: str | None) -> list[Path]:
    """The raw files a unit's runs read: its raw folders, and files the region names elsewhere."""
    from . import pipeline

    raw = reg.raw_dir
    files: set[Path] = set()
    if raw.is_dir():
        others = {u.code for u in reg.units} - {unit}
        for path in raw.rglob("*"):
            parts = path.relative_to(raw).parts
            if not path.is_file() or parts[0] in others or "overpass" in parts[:2]:
                continue  # another unit's data; Overpass downloads (keyed by their query)
            if path.name.startswith(".") or path.name.endswith(".tmp"):
                continue
            files.add(path)
    # files given by absolute path: a region's extract, a boundary, registries
    the_unit = reg.unit(unit) if unit is not None else None
    base = reg.raw_dir_of(the_unit)
    named = [reg.source_of(the_unit).get("path")]
    try:
        named.append(pipeline.boundary_spec(reg, the_unit).get("file"))
    except Exception:  # no boundary configured: the run itself reports it
        pass
    named += [e.get("file") for entries in reg.registries.values() for e in entries]
    named.append(reg.population.get("raster"))  # a population raster (may live elsewhere)
    for name in named:
        if name:
            path = Path(name) if Path(name).is_absolute() else base / name
            if path.is_file():
                files.add(path)
    return sorted(files)


def inputs(task: Task, *, root: Path | None = None, code: str | None = None) -> dict[str, Any]:
    """What a task's results depend on, with file digests (see the module docstring).

    ``code``: the package's code digest when already known (one per batch).
    """
    root = Path(root) if root is not None else settings.project_root
    reg = regions.load(task.region)
    cache = root / "runs" / task.region / ".digests"
    rel = _relative_to(root)
    data = {rel(p): file_digest(p, cache) for p in _data_files(reg, task.unit)}
    osm_file = task.parameters.get("osm_file")
    return {
        "package_version": __version__,
        "code_digest": code or code_digest(),
        "notebook_sha256": file_digest(runner.notebooks_dir() / f"{task.notebook}.ipynb"),
        "region_config_sha256": file_digest(reg.config_path) if reg.config_path else None,
        "data": data,
        "osm_file": (
            {"path": str(osm_file), "sha256": file_digest(Path(osm_file), cache)}
            if osm_file
            else None
        ),
        "parameters": {k: v for k, v in task.parameters.items() if k != "root"},
    }


def digest_of(values: Mapping[str, Any]) -> str:
    """SHA-256 of a JSON-able mapping, independent of key order."""
    text = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _relative_to(root: Path):
    def rel(path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            return str(path)

    return rel


# --------------------------------------------------------------------------- manifests
def _write_json_atomic(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(
        json.dumps(value, ensure_ascii=False, indent=1, default=str) + "\n", encoding="utf-8"
    )
    os.replace(tmp, path)


def read_manifest(task: Task, *, root: Path | None = None) -> dict[str, Any] | None:
    """The last manifest of a task, or ``None`` (never run, or unreadable)."""
    root = Path(root) if root is not None else settings.project_root
    try:
        value = json.loads(task.manifest_path(root).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def outputs_complete(manifest: Mapping[str, Any], *, root: Path | None = None) -> bool:
    """Whether every output a manifest lists is on disk with its recorded size and hash."""
    root = Path(root) if root is not None else settings.project_root
    listed = manifest.get("outputs") or []
    if not listed:
        return False
    for item in listed:
        if not isinstance(item, Mapping) or not item.get("path"):
            return False
        path = root / str(item["path"])
        if not path.is_file() or path.stat().st_size != item.get("bytes"):
            return False
        if _sha256_file(path) != item.get("sha256"):
            return False
    return True


def is_current(
    task: Task, manifest: Mapping[str, Any] | None, digest: str, *, root: Path | None = None
) -> bool:
    """A task is up to date: last run ok, same inputs, outputs complete."""
    return (
        manifest is not None
        and manifest.get("status") == STATUS_OK
        and manifest.get("digest") == digest
        and outputs_complete(manifest, root=root)
    )


def _unit_names(reg: regions.Region, unit: str | None) -> tuple[str, str]:
    if unit is None:
        return reg.label_zh, reg.label_en
    u = reg.unit(unit)
    return u.name, u.name_en or u.name


def base_manifest(task: Task, root: Path | None = None) -> dict[str, Any]:
    """The manifest of a task not run yet (status ``missing``)."""
    root = Path(root) if root is not None else settings.project_root
    reg = regions.load(task.region)
    name_zh, name_en = _unit_names(reg, task.unit)
    rel = _relative_to(root)
    return {
        "format": MANIFEST_FORMAT,
        "region": task.region,
        "unit": task.unit,
        "unit_name": name_zh,
        "unit_name_en": name_en,
        "notebook": task.notebook,
        "status": STATUS_MISSING,
        "error": None,
        "error_type": None,
        "failed_cell": None,
        "executed_notebook": rel(task.executed_path(root)),
        "log": rel(task.log_path(root)),
        "outputs": [],
        "figures": [],
        "warnings": [],
        "verdicts": [],
    }


def _outputs(task: Task, root: Path, since: float) -> list[dict[str, Any]]:
    """The files this run wrote: ``<nb>.*`` and ``<nb>_*`` in its folders, modified since ``since``.

    Files of the same names left by earlier runs (and no longer written) are not this run's.
    """
    rel = _relative_to(root)
    found = []
    for folder in (root / "maps" / task.sub, root / "data" / "processed" / task.sub):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            stem_ok = path.name.startswith((f"{task.notebook}.", f"{task.notebook}_"))
            fresh = path.is_file() and path.stat().st_mtime >= since
            if fresh and stem_ok and not path.name.endswith(".tmp"):
                found.append(
                    {"path": rel(path), "bytes": path.stat().st_size, "sha256": _sha256_file(path)}
                )
    return found


def _figures(task: Task, root: Path) -> list[dict[str, Any]]:
    path = root / "data" / "processed" / task.sub / f"{task.notebook}_figures.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    figures = value.get("figures") if isinstance(value, dict) else None
    return figures if isinstance(figures, list) else []


def _warnings(task: Task, root: Path) -> list[dict[str, str]]:
    """The sections the run skipped and why (``warnings`` of its ``<nb>_figures.json``)."""
    return read_warnings(root / "data" / "processed" / task.sub / f"{task.notebook}_figures.json")


def _verdicts(task: Task, root: Path) -> list[dict[str, Any]]:
    """The verdicts on the report's claims (``verdicts`` of its ``<nb>_figures.json``)."""
    return read_verdicts(root / "data" / "processed" / task.sub / f"{task.notebook}_figures.json")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- one task
def descendants_rss(pid: int | None) -> int:
    """Resident memory (bytes) of all descendants of process ``pid`` (``None``: this
    process) together, the process itself not counted; 0 when it has ended."""
    import psutil

    total = 0
    try:
        for child in psutil.Process(pid).children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
    except psutil.Error:
        pass
    return total


class _PeakMemory:
    """Peak resident memory (MB) of this process's children (the kernel), sampled."""

    def __init__(self, every_s: float = 0.2) -> None:
        self.every_s = every_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, descendants_rss(None) / 2**20)
            self._stop.wait(self.every_s)

    def __enter__(self) -> _PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextmanager
def _log_to(path: Path) -> Iterator[None]:
    """Send this package's and papermill's log records (cell output included) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger("accessibility"), logging.getLogger("papermill")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
        handler.close()


#: One kernel per worker process at a time, whatever the worker's number of threads
#: (a ``dask worker`` started without ``--nthreads 1`` has several): settings, log
#: files and the memory sampler are per process.
_ONE_KERNEL = threading.Lock()


def _used_inputs(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs a run used: as they were when it started, plus data files it created.

    A file that changed while the run went on keeps its value from the start, so the
    next batch sees the change and runs again.
    """
    return {**before, "data": {**after["data"], **before["data"]}}


def execute(
    task: Task, *, root: str | Path, timeout_s: float | None = None, attempt: int = 1
) -> dict[str, Any]:
    """Run one task (in a worker) and return its manifest, also written next to its outputs.

    Never raises for a failing notebook: the error is in the manifest.
    """
    with _ONE_KERNEL:
        return _execute(task, Path(root).resolve(), timeout_s, attempt)


def _execute(task: Task, root: Path, timeout_s: float | None, attempt: int) -> dict[str, Any]:
    settings.root = root
    settings.progress = False
    os.environ.update(ONE_THREAD)  # inherited by the kernel
    manifest = base_manifest(task, root)
    manifest.update(
        status=STATUS_RUNNING, started=_now(), attempt=attempt, host=socket.gethostname()
    )
    path = task.manifest_path(root)
    _write_json_atomic(path, manifest)
    started = time.time()
    t0 = time.perf_counter()
    before = inputs(task, root=root)  # what the run reads, as it starts
    with _log_to(task.log_path(root)), _PeakMemory() as peak:
        logging.getLogger(__name__).info("run %s (attempt %d)", task.label, attempt)
        try:
            runner._run_one(
                task.notebook,
                task.region,
                task.unit,
                dict(task.parameters),
                False,
                timeout_s=timeout_s,
                log_output=True,
            )
            status, error, cell, kind = STATUS_OK, None, None, None
        except runner.NotebookFailed as exc:
            status, error, cell, kind = STATUS_FAILED, str(exc), exc.cell_index, exc.ename
        except Exception as exc:  # anything else must not take the batch down either
            status, error, cell = STATUS_FAILED, f"{type(exc).__name__}: {exc}", None
            kind = type(exc).__name__
        if error:
            logging.getLogger(__name__).error("%s", error)
    manifest.update(
        status=status,
        error=error,
        error_type=kind,
        failed_cell=cell,
        finished=_now(),
        seconds=round(time.perf_counter() - t0, 3),
        peak_rss_mb=round(peak.peak_mb, 1),
    )
    try:
        used = _used_inputs(before, inputs(task, root=root))
        manifest.update(
            inputs=used,
            digest=digest_of(used),
            outputs=_outputs(task, root, started - 1.0) if status == STATUS_OK else [],
            figures=_figures(task, root) if status == STATUS_OK else [],
            warnings=_warnings(task, root) if status == STATUS_OK else [],
            verdicts=_verdicts(task, root) if status == STATUS_OK else [],
        )
    except Exception as exc:  # e.g. a disk error while hashing: the run cannot count as done
        manifest.update(
            status=STATUS_FAILED,
            error=f"{error or 'the notebook ran'}; then recording its outputs failed: "
            f"{type(exc).__name__}: {exc}",
            outputs=[],
            figures=[],
            warnings=[],
            verdicts=[],
        )
    _write_json_atomic(path, manifest)
    return manifest


def _not_run(task: Task, root: Path, attempt: int, first: Task) -> dict[str, Any]:
    """Manifest of a task not started because the Overpass server gave ``first`` no answer."""
    reg = regions.load(task.region)
    manifest = base_manifest(task, root)
    reason = runner.not_run_without_overpass(task.notebook, reg, task.unit)
    manifest.update(
        status=STATUS_FAILED,
        error=f"{reason} (no answer for {first.label}; its log: {first.log_path(root)})",
        error_type=NOT_RUN,
        finished=_now(),
        attempt=attempt,
        executed_notebook=None,  # no kernel started: an older copy is not this run's
        log=None,
    )
    _write_json_atomic(task.manifest_path(root), manifest)
    return manifest


def _lost(task: Task, root: Path, error: BaseException, attempt: int) -> dict[str, Any]:
    """Manifest of a task whose worker died (killed, out of memory…)."""
    manifest = read_manifest(task, root=root) or base_manifest(task, root)
    manifest.update(
        status=STATUS_FAILED,
        error=f"the worker running it was lost: {type(error).__name__}: {error}",
        failed_cell=None,
        finished=_now(),
        attempt=attempt,
        outputs=[],
        figures=[],
        warnings=[],
        verdicts=[],
    )
    _write_json_atomic(task.manifest_path(root), manifest)
    return manifest


# --------------------------------------------------------------------------- executors
def default_jobs() -> int:
    """Workers for a local batch: one per core, fewer when memory is short."""
    import psutil

    cores = os.cpu_count() or 1
    by_memory = int(psutil.virtual_memory().available / 2**30 // MEMORY_PER_RUN_GB)
    return max(1, min(cores, by_memory))


@contextmanager
def client_for(*, jobs: int | None = None, scheduler: str | None = None) -> Iterator[Any]:
    """A ``dask.distributed`` client: on an existing scheduler, or on a local cluster.

    A local cluster has ``jobs`` single-threaded worker processes (default
    :func:`default_jobs`), its web server on any free port; it is closed on exit.
    """
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    n = jobs or default_jobs()
    if n < 1:
        msg = f"jobs must be at least 1, got {n}"
        raise ValidationError(msg)
    import dask

    with (
        # a task whose worker dies (out of memory, killed) is tried on one more worker, then failed
        dask.config.set({"distributed.scheduler.allowed-failures": 1}),
        LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never a clash with another cluster
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


# --------------------------------------------------------------------------- the batch
def run(
    region: str | regions.Region,
    notebooks: Sequence[str] | None = None,
    *,
    units: Sequence[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    retry_failed: bool = False,
    timeout_s: float | None = None,
    progress: bool | None = None,
    preclip: bool = True,
) -> BatchReport:
    """Run a batch (see the module docstring) and write its index page.

    Parameters
    ----------
    region
        Region name or loaded region.
    notebooks
        Notebook names; ``None``: all.
    units
        Some unit codes or names; ``None``: every unit.
    parameters
        Parameters for every notebook (``osm_file``, ``offline``, ``lang``…).
    jobs
        Local workers (each runs one kernel at a time); default: one per core, fewer
        when memory is short. Ignored with ``scheduler``.
    scheduler
        Address of an existing ``dask.distributed`` scheduler.
    force
        Run every task, even those up to date.
    retry_failed
        Run only the tasks whose last run failed or was interrupted.
    timeout_s
        Limit per notebook cell, seconds (``None``: no limit).
    progress
        Progress bar over runs; default ``settings.progress``.
    preclip
        Clip the units' areas out of a local extract in one pass before the runs
        start (:func:`clip_ahead`); ``False``: each run clips its own.

    Returns
    -------
    BatchReport
        Its ``exit_code`` is the number of planned runs that are not ``ok`` afterwards
        (capped at 100).
    """
    t0 = time.perf_counter()
    reg = regions.load(region) if isinstance(region, str) else region
    root = settings.project_root
    tasks = plan(reg, notebooks, units=units, parameters=parameters)
    if timeout_s is not None and not timeout_s > 0:
        msg = f"timeout_s must be > 0 seconds, got {timeout_s!r}"
        raise ValidationError(msg)
    if jobs is not None and jobs < 1:
        msg = f"jobs must be at least 1, got {jobs}"
        raise ValidationError(msg)
    code = code_digest()
    manifests: dict[Task, dict[str, Any]] = {}
    todo: list[Task] = []
    skipped: list[str] = []
    for task in tasks:
        last = read_manifest(task, root=root)
        if retry_failed:
            wanted = last is not None and last.get("status") in (STATUS_FAILED, STATUS_RUNNING)
        else:
            current = digest_of(inputs(task, root=root, code=code))
            wanted = force or not is_current(task, last, current, root=root)
        if wanted:
            todo.append(task)
        else:
            skipped.append(task.label)
        manifests[task] = last or base_manifest(task, root)
    log.info(
        "batch %s: %d runs planned, %d to run, %d up to date%s",
        reg.name,
        len(tasks),
        len(todo),
        len(skipped),
        " (only failed or interrupted runs)" if retry_failed else "",
    )
    # the index page shows every unit and notebook of the region, not only this batch's
    shown = {(t.unit, t.notebook): t for t in plan(reg)} | {(t.unit, t.notebook): t for t in tasks}
    for task in shown.values():
        if task not in manifests:
            manifests[task] = read_manifest(task, root=root) or base_manifest(task, root)
    page = list(shown.values())
    ran: list[str] = []
    n_jobs = jobs or default_jobs()
    if todo and preclip:
        clip_ahead(reg, todo)
    if todo:
        show = settings.progress if progress is None else progress
        attempts = {t: int(manifests[t].get("attempt") or 0) + 1 for t in todo}
        with client_for(jobs=n_jobs, scheduler=scheduler) as client:
            for done in _submit_all(client, todo, root, timeout_s, attempts, reg.name, show):
                task, manifest = done
                manifests[task] = manifest
                if manifest.get("error_type") != NOT_RUN:
                    ran.append(task.label)
                # the page follows the batch: each finished run appears as it ends
                _index_quietly(reg, [manifests[t] for t in page], root, live=True)
    report_manifests = [manifests[t] for t in tasks]
    failed = [t.label for t in tasks if manifests[t].get("status") != STATUS_OK]
    index = write_index(reg, [manifests[t] for t in page], root=root)
    seconds = time.perf_counter() - t0
    _write_json_atomic(
        root / "runs" / reg.name / "batch.json",
        {
            "format": MANIFEST_FORMAT,
            "region": reg.name,
            "finished": _now(),
            "seconds": round(seconds, 3),
            "scheduler": scheduler or f"local ({n_jobs} workers)",
            "ran": ran,
            "skipped": skipped,
            "failed": failed,
            "runs": [
                {
                    **{
                        k: m.get(k)
                        for k in ("unit", "notebook", "status", "seconds", "peak_rss_mb", "error")
                    },
                    "warnings": len(m.get("warnings") or []),
                }
                for m in report_manifests
            ],
        },
    )
    return BatchReport(report_manifests, ran, skipped, failed, index, seconds)


def clip_ahead(reg: regions.Region, todo: Sequence[Task]) -> list[str]:
    """Clip the areas of the units about to run out of their local extract in one pass.

    Each unit's clip polygon is computed as its run computes it
    (:func:`accessibility.pipeline.clip_area`, never downloading a boundary), and
    when at least :data:`PRECLIP_MIN_UNITS` units reading the same extract have no
    cached clip yet, :func:`accessibility.sources.clip_many.clip_many` writes them
    all into the region's clip cache, where each run's
    :func:`~accessibility.sources.extract.clip_cached` finds its own. Nothing here
    stops the batch: a unit whose area cannot be found, or any error of the pass, is
    logged as a warning and the runs clip what is missing as they would without it.

    Returns
    -------
    list of str
        The units (codes; ``""`` for a region run as a whole) clipped now.
    """
    from . import pipeline
    from .sources import clip_many as many
    from .sources import extract

    # the units' OSM boundaries, looked up in one read of each extract (one read each
    # would read a province file some 160 times)
    by_source: dict[Path, list[regions.Unit | None]] = {}
    for code in dict.fromkeys(task.unit for task in todo):
        task = next(t for t in todo if t.unit == code)
        unit = reg.unit(code) if code is not None else None
        try:
            src = pipeline.local_extract(reg, unit, osm_file=task.parameters.get("osm_file"))
        except Exception:  # the loop below says why, unit by unit
            continue
        if src is not None:
            by_source.setdefault(Path(src), []).append(unit)
    for src, units in by_source.items():
        if len(units) < 2:
            continue
        t0 = time.perf_counter()
        try:
            kept = pipeline.prefetch_boundaries(reg, units, src)
        except Exception as exc:
            log.warning(
                "looking up %d boundaries of %s in %s at once failed (%s: %s); each run "
                "looks up its own",
                len(units), reg.name, src, type(exc).__name__, exc,
            )  # fmt: skip
            continue
        if kept:
            log.info(
                "%d boundaries of %s looked up in %s in one read (%.1f s)",
                len(kept), reg.name, src.name, time.perf_counter() - t0,
            )  # fmt: skip
    areas: dict[Path, dict[str, tuple[Any, Path]]] = {}
    seen: set[str | None] = set()
    for task in todo:
        if task.unit in seen:
            continue
        seen.add(task.unit)
        unit = reg.unit(task.unit) if task.unit is not None else None
        label = task.sub.as_posix()
        try:
            src = pipeline.local_extract(reg, unit, osm_file=task.parameters.get("osm_file"))
            if src is None:
                continue
            # offline: a boundary the extract does not hold is left to the run
            _, clip, _ = pipeline.clip_area(reg, unit, osm_file=src, offline=True)
            cached = pipeline.clips_dir(reg) / f"clip_{extract.cache_key(src, clip)}.osm.pbf"
            if cached.is_file():
                continue
        except Exception as exc:
            log.warning(
                "%s: its clip area was not found before the runs (%s: %s); its run clips it",
                label,
                type(exc).__name__,
                exc,
            )
            continue
        areas.setdefault(src, {})[task.unit or ""] = (clip, cached)
    clipped: list[str] = []
    for src, units in areas.items():
        if len(units) < PRECLIP_MIN_UNITS:
            continue
        polygons = {code: clip for code, (clip, _) in units.items()}
        t0 = time.perf_counter()
        try:
            many.clip_many(src, polygons, pipeline.clips_dir(reg))
        except Exception as exc:
            log.warning(
                "clipping %d units of %s out of %s in one pass failed (%s: %s); each run "
                "clips its own",
                len(polygons),
                reg.name,
                src.name,
                type(exc).__name__,
                exc,
            )
        # what was written, also when the pass failed for some units after writing the others
        done = [code for code, (_, cached) in units.items() if cached.is_file()]
        clipped += done
        if done:
            log.info(
                "%d units of %s clipped out of %s in one pass in %.1f s",
                len(done),
                reg.name,
                src.name,
                time.perf_counter() - t0,
            )
    return clipped


def _submit_all(
    client: Any,
    todo: list[Task],
    root: Path,
    timeout_s: float | None,
    attempts: Mapping[Task, int],
    name: str,
    show: bool,
) -> Iterator[tuple[Task, dict[str, Any]]]:
    """Run the first task of each unit, then the unit's others once it is done.

    Tasks go to the cluster only when a worker is free (one per worker), so a task
    not submitted has not started. Once a run fails because the Overpass server gave
    no answer (``error_type`` ``ServerUnreachableError``), the tasks not started yet
    that would download from it are not started: each is recorded as failed with
    ``error_type`` :data:`NOT_RUN` and a message saying how to use a local extract.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    by_unit: dict[str | None, list[Task]] = {}
    for task in todo:
        by_unit.setdefault(task.unit, []).append(task)
    regions_of = {task.region: regions.load(task.region) for task in todo}

    def submit(task: Task) -> Any:
        return client.submit(
            execute,
            task,
            root=str(root),
            timeout_s=timeout_s,
            attempt=attempts[task],
            key=f"{task.label}-{attempts[task]}-{time.time_ns()}",
            pure=False,
            retries=0,
        )

    ready = [tasks[0] for tasks in by_unit.values()]
    pending: dict[str, Task] = {}
    queue = as_completed(with_results=False)

    def fill() -> None:
        free = max(1, len(client.nthreads())) - len(pending)
        while ready and free > 0:
            task = ready.pop(0)
            fut = submit(task)
            pending[fut.key] = task
            queue.add(fut)
            free -= 1

    bar = tqdm(total=len(todo), desc=f"batch {name}", unit="run", disable=not show)
    failed = 0
    no_answer: Task | None = None  # the first run the Overpass server gave no answer

    def done(task: Task, manifest: dict[str, Any]) -> tuple[Task, dict[str, Any]]:
        nonlocal failed
        failed += manifest.get("status") != STATUS_OK
        bar.set_postfix_str(f"{task.label}: {manifest.get('status')}; failed so far {failed}")
        bar.update(1)
        return task, manifest

    fill()
    try:
        for fut in queue:
            task = pending.pop(fut.key)
            try:
                manifest = fut.result()
            except Exception as exc:  # the worker died, or the task could not reach one
                try:
                    manifest = _lost(task, root, exc, attempts[task])
                except Exception as inner:  # not even the manifest can be written
                    log.error(
                        "%s: %s; its manifest could not be written: %s", task.label, exc, inner
                    )
                    manifest = {
                        **base_manifest(task, root),
                        "status": STATUS_FAILED,
                        "error": str(exc),
                    }
            if task is by_unit[task.unit][0]:
                ready.extend(by_unit[task.unit][1:])
            if no_answer is None and manifest.get("error_type") == ServerUnreachableError.__name__:
                no_answer = task
                log.error(
                    "%s: the Overpass server gave no answer; runs not started yet that "
                    "download from it are not started",
                    task.label,
                )
            yield done(task, manifest)
            if no_answer is not None:
                for other in [t for t in ready if _uses_overpass(regions_of[t.region], t)]:
                    ready.remove(other)
                    # a unit's first task not run: its other notebooks are not run either
                    unit = by_unit[other.unit]
                    for t in unit if other is unit[0] else [other]:
                        yield done(t, _not_run(t, root, attempts[t], no_answer))
            fill()
    finally:
        bar.close()


def _uses_overpass(reg: regions.Region, task: Task) -> bool:
    return runner.uses_overpass(reg, task.unit, task.parameters)


def _index_quietly(
    reg: regions.Region, manifests: list[dict[str, Any]], root: Path, *, live: bool
) -> None:
    """Refresh the index page during a batch; a failure to write it must not stop the runs."""
    try:
        write_index(reg, manifests, root=root, live=live)
    except Exception as exc:
        log.warning("could not refresh the index page: %s: %s", type(exc).__name__, exc)


def write_index(
    reg: regions.Region,
    manifests: Sequence[Mapping[str, Any]],
    *,
    root: Path | None = None,
    live: bool = False,
) -> Path:
    """The region's index page from the manifests (``maps/<region>/index.html``).

    ``live``: the batch is still going, so ``running`` means running (else: interrupted).
    """
    from . import index_page

    return index_page.write_index(reg, list(manifests), root=root, live=live)
