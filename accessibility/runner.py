"""Running the notebooks with papermill, one run per region and notebook.

Design
------
In:  a notebook name (``notebooks/<name>.ipynb``), a region, parameters.
Out: the executed notebook in ``runs/<region>/<name>.ipynb`` (never over the source),
     and whatever the notebook writes (maps in ``maps/<region>/``, tables in
     ``data/processed/<region>/``). Parameters are validated here, before a kernel
     starts, so a typo fails in a second with a message that names it.
Tests: ``tests/test_cli.py`` runs the sample region end to end in a temporary root.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import network, regions
from ._errors import AccessibilityError, ServerUnreachableError, ValidationError
from .parameters import check as check_parameters
from .settings import (
    KERNEL_NAME,
    OVERPASS_DEADLINE_ENV,
    OVERPASS_REGION_DEADLINE_ENV,
    OVERPASS_URL_ENV,
    PROGRESS_ENV,
    inside_root,
    settings,
)

log = logging.getLogger(__name__)


def notebooks() -> list[str]:
    """Names of the notebooks that can be run (``notebooks/*.ipynb``)."""
    return sorted(p.stem for p in notebooks_dir().glob("*.ipynb"))


class NotebookFailed(AccessibilityError, RuntimeError):
    """A notebook stopped with an error; the executed copy shows the failing cell.

    Attributes
    ----------
    cell_index
        Index of the failing cell when a cell raised (counting the executed copy's cells
        without the error banners papermill adds to it); ``None`` when the kernel died,
        timed out or could not start.
    executed
        The executed copy (up to the failing cell).
    ename
        Name of the exception the failing cell raised (``None`` when no cell raised).
    unreachable
        A download server gave no answer (:class:`ServerUnreachableError`) in this
        run or in one of the runs this failure stands for.
    """

    def __init__(
        self,
        msg: str,
        *,
        cell_index: int | None = None,
        executed: Path | None = None,
        ename: str | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(msg)
        self.cell_index = cell_index
        self.executed = executed
        self.ename = ename
        self.unreachable = unreachable or ename == ServerUnreachableError.__name__


@dataclass(frozen=True)
class RunResult:
    """Where one run left its outputs."""

    notebook: Path
    map_html: Path
    tables: Path


def notebooks_dir() -> Path:
    """The folder of source notebooks: the project's ``notebooks/``, else the one beside the package."""
    own = settings.project_root / "notebooks"
    if own.is_dir():
        return own
    return Path(__file__).resolve().parents[1] / "notebooks"


#: Parameters every notebook declares: the runner sets them for each run.
COMMON_PARAMETERS = (
    "region",
    "unit",
    "root",
    "osm_file",
    "offline",
    "lang",
    "origins",
    "origin_levels",
    "grid_m",
)


def _papermill() -> Any:
    """papermill, imported without jsonschema's optional IRI-syntax checker.

    That checker (``rfc3987_syntax``, pulled in by Jupyter's dependencies) builds a
    grammar when imported: 0.9 s of every run's start, for a format no notebook
    uses. It is hidden from that one import only; later imports find it as usual.
    """
    if "papermill" not in sys.modules and "rfc3987_syntax" not in sys.modules:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # an ImportError
        try:
            import papermill  # noqa: F401  (bound below, once loaded)
        finally:
            del sys.modules["rfc3987_syntax"]
    import papermill as pm

    return pm


def declared_parameters(notebook: str) -> list[str]:
    """Names in the ``parameters`` cell of ``notebooks/<notebook>.ipynb``."""
    pm = _papermill()

    return list(pm.inspect_notebook(str(notebooks_dir() / f"{notebook}.ipynb")))


def validate(notebook: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Check parameters before a kernel starts; return them as the notebook gets them.

    The notebook must exist, each name must be in its ``parameters`` cell, and each
    value must be of the type and range the notebook takes
    (:mod:`accessibility.parameters`); the region file is read and checked, its
    per-mode speed overrides against ``rules/speeds.yml`` and its registry files
    against their encodings.

    Raises
    ------
    ValidationError, DataSourceError, UnknownRegionError
        In one line naming the notebook, parameter or file, the value and what is
        allowed.
    """
    if notebook not in notebooks():
        msg = f"unknown notebook {notebook!r}; available: {', '.join(notebooks())}"
        raise ValidationError(msg)
    params = dict(parameters)
    region = regions.load(str(params.get("region", "")))  # UnknownRegionError names the choices
    given = sorted({"unit", "root"} & set(params))
    if given:
        msg = (
            f"{', '.join(given)} cannot be given as notebook parameters: each run sets them "
            "(choose units with the command's --unit/--units option, the root with --root)"
        )
        raise ValidationError(msg)
    declared = declared_parameters(notebook)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        msg = (
            f"notebook {notebook} has no parameter {', '.join(map(repr, unknown))}; "
            f"its parameters: {', '.join(declared)}"
        )
        raise ValidationError(msg)
    check_region(region)
    values = {k: v for k, v in params.items() if k != "region"}
    params = {**check_parameters(notebook, values, region=region), "region": region.name}
    return params


def check_region(region: regions.Region) -> None:
    """What a run reads from the region file beyond :func:`accessibility.regions.load`:
    the modes of its speed overrides, and that its registry files decode."""
    where = f"region file {region.config_path}"
    for mode, speeds in region.speed_overrides.items():
        try:
            network.mode_rules(mode, overrides=speeds)
        except ValidationError as exc:
            raise ValidationError(f"{where}: speed_overrides: {exc}") from None
    if not region.registries:
        return
    from .sources import registry

    folders = {region.raw_dir_of(u) for u in region.units} | {region.raw_dir}
    for entries in region.registries.values():
        for entry in entries:
            name = Path(str(entry["file"])).expanduser()
            for path in {name} if name.is_absolute() else {f / name for f in folders}:
                registry.check_file(path, entry, where=where)


def run(
    notebook: str,
    *,
    region: str,
    unit: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    progress: bool | None = None,
    skip_overpass: bool = False,
) -> list[RunResult]:
    """Execute a notebook for a region with papermill: once, or once per unit.

    Parameters
    ----------
    notebook
        Name without ``.ipynb`` (e.g. ``"facility_access"``).
    region
        Region name.
    unit
        One unit's code or name; ``None`` runs every unit of a region whose units
        have boundaries of their own (e.g. Xuchang's six), else the whole region.
    parameters
        Values for the notebook's ``parameters`` cell (``mode``, ``thresholds_min``,
        ``kinds``, ``lang``, ``osm_file``…). ``root`` is always the current project root.
    progress
        Show papermill's cell progress bar; default ``settings.progress``.
    skip_overpass
        Start no unit that downloads from Overpass (:func:`uses_overpass`): the
        server gave no answer earlier in the same command. Such units are failures
        that say so. Whatever this says, once a unit fails because the Overpass
        server gave no answer, the later units that need it are not started either.

    Returns
    -------
    list of RunResult
        One per run, in unit order.

    Raises
    ------
    NotebookFailed
        After all units ran, if any failed; the message lists each failure and its
        executed copy. The other units' outputs are complete. ``unreachable`` is
        true when the Overpass server gave no answer.
    """
    params = validate(notebook, {**(parameters or {}), "region": region})
    reg = regions.load(params["region"])
    if unit is not None:
        units: list[str | None] = [reg.unit(unit).code]
    elif reg.per_unit:
        units = [u.code for u in reg.units]
    else:
        units = [None]
    results, failures = [], []
    down = skip_overpass
    for code in units:
        if down and uses_overpass(reg, code, params):
            failures.append(not_run_without_overpass(notebook, reg, code))
            log.error("%s", failures[-1])
            continue
        try:
            results.append(_run_one(notebook, reg.name, code, params, progress))
        except NotebookFailed as exc:
            failures.append(str(exc))
            log.error("%s", exc)
            down = down or exc.unreachable
    if failures:
        done = f"; {len(results)} of {len(units)} runs succeeded" if len(units) > 1 else ""
        raise NotebookFailed("\n".join(failures) + done, unreachable=down)
    return results


def uses_overpass(region: regions.Region, unit: str | None, params: Mapping[str, Any]) -> bool:
    """Whether a run of a unit downloads from Overpass: its source is ``overpass`` and no
    ``osm_file`` is given. (A run whose download is cached would not need the server;
    that is not known before it starts.)"""
    if params.get("osm_file"):
        return False
    the_unit = region.unit(unit) if unit is not None else None
    return region.source_of(the_unit).get("kind") == "overpass"


def not_run_without_overpass(notebook: str, region: regions.Region, unit: str | None) -> str:
    """Why a run was not started: the Overpass server gave no answer to an earlier one."""
    what = f"region {region.name}" + (f" unit {unit}" if unit is not None else "")
    return (
        f"{notebook} not run for {what}: the Overpass server gave no answer to an earlier "
        "run of this command (see its error), and this one would download from it too. "
        "Work from a local extract instead: --osm-file henan-latest.osm.pbf, or source: "
        f"{{kind: osm_file, path: henan-latest.osm.pbf}} in {region.config_path}; or "
        "run again once the server answers"
    )


def _run_one(
    notebook: str,
    region: str,
    unit: str | None,
    params: dict[str, Any],
    progress: bool | None,
    *,
    timeout_s: float | None = None,
    log_output: bool = False,
) -> RunResult:
    """One papermill run; any way a run can fail becomes :class:`NotebookFailed`.

    ``timeout_s`` limits each cell (seconds); ``log_output`` sends the cells' output
    to the ``papermill`` logger (the batch runner writes it to the run's log file).
    """
    pm = _papermill()

    root = settings.project_root
    params = {**params, "root": str(root), "unit": unit}
    source = notebooks_dir() / f"{notebook}.ipynb"
    if not source.is_file():
        msg = f"notebook {source} not found"
        raise ValidationError(msg)
    sub = Path(region, unit) if unit is not None else Path(region)
    out = inside_root(settings.runs_dir / sub / f"{notebook}.ipynb")
    out.parent.mkdir(parents=True, exist_ok=True)
    show = settings.progress if progress is None else progress
    what = f"region {region}" + (f" unit {unit}" if unit is not None else "")
    log.info("running %s for %s -> %s", source.name, what, out)
    # the kernel inherits the environment: no progress bars in the executed copy, and
    # this process's Overpass deadlines and endpoint when they were set here
    env = {PROGRESS_ENV: "0"}
    if settings.overpass_deadline_s is not None:
        env[OVERPASS_DEADLINE_ENV] = str(settings.overpass_deadline)
    if settings.overpass_region_deadline_s is not None:
        env[OVERPASS_REGION_DEADLINE_ENV] = str(settings.overpass_region_deadline)
    if settings.overpass_url:
        env[OVERPASS_URL_ENV] = settings.overpass_url
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        pm.execute_notebook(
            str(source),
            str(out),
            parameters=params,
            progress_bar=show,
            cwd=str(root),
            kernel_name=KERNEL_NAME,
            # the kernel's own log (shutdown noise) would drown the run's messages;
            # errors in cells are reported by papermill and kept in the executed copy
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            execution_timeout=timeout_s,
            log_output=log_output,
            # download progress is shown as it comes (a batch logs every line anyway)
            stderr_file=None if log_output else _DownloadLines(),
        )
    except pm.PapermillExecutionError as exc:
        msg = f"{notebook} failed for {what} in cell {exc.cell_index}: {exc.ename}: {exc.evalue} (see {out})"
        raise NotebookFailed(
            msg, cell_index=exc.cell_index, executed=out, ename=exc.ename
        ) from None
    except (
        Exception
    ) as exc:  # a dead kernel, a cell over the time limit, a kernel that never started
        msg = f"{notebook} failed for {what}: {type(exc).__name__}: {exc} (see {out})"
        raise NotebookFailed(msg, executed=out) from exc
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return RunResult(
        notebook=out,
        map_html=settings.maps_dir / sub / f"{notebook}.html",
        tables=settings.data_processed / sub,
    )


class _DownloadLines:
    """A kernel's standard error, of which the lines of the download modules are
    logged again here: a run that waits for a server says so as it waits.

    The notebooks log as ``LEVEL logger: message``; lines of other loggers, and
    anything else a cell writes, stay in the executed copy only.
    """

    LOGGERS = ("accessibility.sources.overpass",)

    def __init__(self) -> None:
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._forward(line)
        return len(text)

    def flush(self) -> None:
        pass

    def _forward(self, line: str) -> None:
        level, _, rest = line.partition(" ")
        name, sep, message = rest.partition(": ")
        number = logging.getLevelName(level)
        if sep and name in self.LOGGERS and isinstance(number, int):
            logging.getLogger(name).log(number, "%s", message)
