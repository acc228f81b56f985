"""The ``accessibility`` command line.

``accessibility run --region sample`` executes the facility-access notebook for a
region; ``accessibility regions`` lists the configured regions;
``accessibility regions from-extract EXTRACT --parent 河南省 --level 6 --name henan``
writes ``regions/henan.yml`` with every county-level unit of the province found in
the extract;
``accessibility sample`` (re)generates the synthetic sample county. Errors in the
input print one line saying what to fix and exit with status 2; a failing notebook
exits with status 1 and names the executed copy to open.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from . import export, regions, runner
from ._errors import AccessibilityError, UnknownRegionError, ValidationError
from .settings import (
    OVERPASS_DEADLINE_ENV,
    OVERPASS_REGION_DEADLINE_ENV,
    check_seconds,
    settings,
)

#: Command-line options in seconds: option → (setting, environment variable). The
#: setting is set for this process, the variable for the kernels and local batch
#: workers it starts (other processes), and restored when the command ends.
_SECONDS_OPTIONS = {
    "--overpass-deadline": ("overpass_deadline_s", OVERPASS_DEADLINE_ENV),
    "--overpass-region-deadline": ("overpass_region_deadline_s", OVERPASS_REGION_DEADLINE_ENV),
}


def _thresholds(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        msg = f"--thresholds takes minutes separated by commas, e.g. 15,30; got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def _seconds(option: str) -> Callable[[str], float]:
    """An argparse type reading ``option``'s value as seconds > 0."""

    def read(text: str) -> float:
        try:
            return check_seconds(text, option)
        except ValidationError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return read


def _data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--osm-file",
        type=Path,
        help="local .osm/.osm.pbf extract to read instead of the region's source",
    )
    p.add_argument(
        "--offline", action="store_true", help="never download: use cached data or --osm-file"
    )
    p.add_argument("--lang", choices=("zh", "en"), help="language of map labels (default zh)")
    p.add_argument(
        "--overpass-deadline",
        type=_seconds("--overpass-deadline"),
        metavar="SECONDS",
        help="seconds an Overpass query may go unanswered, retries included (default 180); "
        "once the server gives no answer, the units after it that need it are not started",
    )
    p.add_argument(
        "--overpass-region-deadline",
        type=_seconds("--overpass-region-deadline"),
        metavar="SECONDS",
        help="seconds all the Overpass queries of one unit (boundary, data, tiles) may take "
        "together; cached answers cost nothing (default 900)",
    )
    p.add_argument(
        "-p",
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="any other notebook parameter, value as JSON (e.g. -p 'origin_levels=[\"admin_village\"]')",
    )


def _common_parameters(args: argparse.Namespace) -> dict[str, object]:
    """``-p NAME=JSON``, ``--osm-file``, ``--offline`` and ``--lang`` as notebook parameters."""
    params: dict[str, object] = {}
    for item in args.parameter:
        name, sep, value = item.partition("=")
        if not sep:
            msg = f"-p takes NAME=JSON, got {item!r}"
            raise ValidationError(msg)
        if name == "region":  # unit and root are refused by runner.validate
            msg = "-p region=... is set by the command itself; use the command's own option"
            raise ValidationError(msg)
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    if args.lang is not None:
        params["lang"] = args.lang
    if args.osm_file:
        params["osm_file"] = str(args.osm_file.resolve())
    if args.offline:
        params["offline"] = True
    return params


def _names(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def _batch(args: argparse.Namespace) -> int:
    import distributed  # noqa: F401 - its import sets its loggers' levels; quieten them after

    from . import batch

    # the cluster's own chatter (workers starting and stopping) would drown the
    # progress bar; its warnings and errors still show
    logging.getLogger("distributed").setLevel(logging.ERROR)

    report = batch.run(
        args.region,
        _names(args.notebooks),
        units=_names(args.units),
        parameters=_common_parameters(args),
        jobs=args.jobs,
        scheduler=args.scheduler,
        force=args.force,
        retry_failed=args.retry_failed,
        timeout_s=args.timeout,
        preclip=not args.no_preclip,
    )
    ok = sum(m.get("status") == batch.STATUS_OK for m in report.manifests)
    print(
        f"batch {args.region}: {len(report.ran)} run, {len(report.skipped)} up to date, "
        f"{ok} of {len(report.manifests)} ok, {len(report.failed)} failed, {report.seconds:.1f} s"
    )
    for m in report.manifests:
        if m.get("status") == batch.STATUS_FAILED:
            print(f"  failed: {m.get('unit') or args.region}/{m['notebook']}: {m.get('error')}")
            if m.get("log") or m.get("executed_notebook"):
                print(f"          log: {m.get('log')}  notebook: {m.get('executed_notebook')}")
        elif m.get("warnings"):
            where = f"{m.get('unit') or args.region}/{m['notebook']}"
            _print_warnings(where, m["warnings"])
    print(f"  index: {report.index}")
    return report.exit_code


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="accessibility", description="Travel-time access to public facilities."
    )
    p.add_argument(
        "--root",
        type=Path,
        help="project root (data/, maps/, runs/); default: found from the working directory",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars, warnings only")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a notebook for a region")
    run.add_argument("--region", required=True, help="region name (see `accessibility regions`)")
    run.add_argument("--unit", help="one unit of the region (code or name); default: every unit")
    run.add_argument(
        "--notebook",
        default="facility_access",
        help="notebook name (see notebooks/): facility_access, ...",
    )
    run.add_argument("--mode", help="travel mode: walk, walk_child, bicycle, ebike, car")
    run.add_argument("--thresholds", type=_thresholds, help="minutes, comma-separated (e.g. 15,30)")
    run.add_argument(
        "--kinds", help="facility groups, comma-separated (e.g. school:primary,health,bus)"
    )
    _data_options(run)

    batch = sub.add_parser(
        "batch",
        help="every notebook for every unit of a region: parallel, resumable, failures isolated",
        description=(
            "Runs each notebook once per unit on a local Dask cluster (or --scheduler). "
            "Skips runs whose inputs and outputs are unchanged; exit status = number of "
            "failed runs (0: all ok; capped at 100); 2 (one error line, nothing run): a "
            "value, name or option not allowed, as for any command; 101: the batch could "
            "not start."
        ),
    )
    batch.add_argument("region", help="region name (see `accessibility regions`)")
    batch.add_argument(
        "--notebooks", help="notebook names, comma-separated; default: every notebook"
    )
    batch.add_argument("--units", help="unit codes or names, comma-separated; default: every unit")
    batch.add_argument(
        "--jobs", type=int, help="local workers (one kernel each); default: one per core"
    )
    batch.add_argument(
        "--scheduler", help="address of a running dask.distributed scheduler (tcp://host:8786)"
    )
    batch.add_argument("--force", action="store_true", help="run everything, even runs up to date")
    batch.add_argument(
        "--retry-failed", action="store_true", help="run only the runs that failed last time"
    )
    batch.add_argument(
        "--timeout", type=float, help="seconds a notebook cell may take before the run fails"
    )
    batch.add_argument(
        "--no-preclip",
        action="store_true",
        help="let each run clip its unit out of the local extract (default: the units "
        "missing a clip are clipped together in one pass before the runs start)",
    )
    _data_options(batch)

    index = sub.add_parser("index", help="rewrite maps/<region>/index.html from the run manifests")
    index.add_argument("region", help="region name")

    listing = sub.add_parser("regions", help="list configured regions")
    regions_sub = listing.add_subparsers(dest="regions_command")
    made = regions_sub.add_parser(
        "from-extract",
        help="write regions/<name>.yml with every unit of a level inside a parent boundary",
        description=(
            "Finds the parent boundary (e.g. a province) and every administrative unit of "
            "--level inside it in an OSM extract, and writes a region file listing them; "
            "units whose boundary is incomplete in the extract are reported and left out."
        ),
    )
    made.add_argument("extract", type=Path, help="OSM extract (.osm.pbf) holding the boundaries")
    made.add_argument(
        "--parent", required=True, help="the parent's name (e.g. 河南省) or relation id"
    )
    made.add_argument(
        "--parent-level", default="4", help="admin_level of the parent (default 4, a province)"
    )
    made.add_argument(
        "--level", default="6", help="admin_level of the units (default 6, county-level)"
    )
    made.add_argument(
        "--name", required=True, help="region name: the file regions/<name>.yml (e.g. henan)"
    )
    made.add_argument("--force", action="store_true", help="replace an existing region file")
    sample = sub.add_parser(
        "sample", help="generate the synthetic sample county under data/raw/sample/"
    )
    sample.add_argument(
        "--region",
        default="sample",
        help="a region (or units) whose source is the generator (seeds are set in the region file)",
    )
    return p


def _run(args: argparse.Namespace) -> int:
    params = _common_parameters(args)
    for name, value in (("mode", args.mode), ("thresholds_min", args.thresholds)):
        if value is not None:
            params[name] = value
    if args.kinds:
        params["kinds"] = _names(args.kinds)
    names = runner.notebooks() if args.notebook == "all" else [args.notebook]
    if args.notebook == "all":
        shared = ("region", "unit", "osm_file", "offline", "lang")
        extra = sorted(set(params) - set(shared))
        if extra:
            msg = f"with --notebook all only the common options apply; drop {', '.join(extra)}"
            raise ValidationError(msg)
    results, failures = [], []
    overpass_down = False  # the Overpass server gave no answer to an earlier notebook
    for name in names:
        try:
            results += runner.run(
                name,
                region=args.region,
                unit=args.unit,
                parameters=params,
                skip_overpass=overpass_down,
            )
        except runner.NotebookFailed as exc:
            if len(names) == 1:
                raise
            overpass_down = overpass_down or exc.unreachable
            failures.append(str(exc))
            print(f"error: {exc}", file=sys.stderr)
    print(
        "done." if not failures else f"done, with {len(failures)} failed notebook(s) (see above)."
    )
    for result in results:
        print(f"  map:      {result.map_html}")
        print(f"  tables:   {result.tables}")
        print(f"  notebook: {result.notebook}")
        name = Path(result.notebook).stem
        _print_warnings(name, export.read_warnings(Path(result.tables) / f"{name}_figures.json"))
    return 1 if failures else 0


def _print_warnings(where: str, warnings: list[dict[str, str]]) -> None:
    """The sections a run skipped and why (ok with warnings), one line each."""
    if not warnings:
        return
    print(f"  skipped in {where} ({len(warnings)}):")
    for w in warnings:
        print(f"    - {w.get('en') or w.get('zh')}")


def _regions_from_extract(args: argparse.Namespace) -> int:
    """Write a region file from an extract and print what it holds and what it left out."""
    region, found = regions.from_extract(
        args.extract,
        parent=args.parent,
        parent_level=args.parent_level,
        level=args.level,
        name=args.name,
        force=args.force,
    )
    parent = found.parent
    print(
        f"{region.config_path}: {len(region.units)} admin_level {found.level} units inside "
        f"{parent['name']} (relation {parent['osm_id']}, admin_level {parent['admin_level']}); "
        f"{found.outside} outside it"
    )
    if found.prefecture_level:
        tops = {u.prefecture for u in region.units if u.prefecture}
        alone = sum(not u.prefecture for u in region.units)
        print(
            f"  grouped by the admin_level {found.prefecture_level} boundaries (prefectures) "
            f"holding them: {len(tops)}; {alone} unit(s) in none"
        )
    uncoded = [u for u in region.units if u.code == f"r{u.boundary['osm']['relation']}"]
    if uncoded:
        print(f"  without a code in OSM ({len(uncoded)}, coded r<relation id>; replace by hand):")
        for u in uncoded:
            print(f"    - {u.code} {u.name}")
    if found.left_out:
        print(f"  left out ({len(found.left_out)}):")
        for r in found.left_out:
            print(f"    - r{r['osm_id']} {r['name']}: {r['reason']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``accessibility`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # papermill's own chatter (every notebook it opens) would drown the messages
    logging.getLogger("papermill").setLevel(logging.WARNING)
    if args.root is not None:
        settings.root = args.root
    if args.quiet:
        settings.progress = False
    saved = {env: os.environ.get(env) for _, env in _SECONDS_OPTIONS.values()}
    for option, (name, env) in _SECONDS_OPTIONS.items():
        value = getattr(args, option.lstrip("-").replace("-", "_"), None)
        if value is not None:
            setattr(settings, name, value)
            # kernels and local batch workers are other processes: they read it from here
            os.environ[env] = str(value)
    try:
        return _command(args)
    finally:
        for env, before in saved.items():
            if before is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = before


def _command(args: argparse.Namespace) -> int:
    """Run the parsed command; errors become one line on standard error and a status."""
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "batch":
            return _batch(args)
        if args.command == "index":
            from . import batch

            reg = regions.load(args.region)
            tasks = batch.plan(reg)
            path = batch.write_index(
                reg, [batch.read_manifest(t) or batch.base_manifest(t) for t in tasks]
            )
            print(f"index: {path}")
            return 0
        if args.command == "regions" and args.regions_command == "from-extract":
            return _regions_from_extract(args)
        if args.command == "regions":
            for name in regions.available():
                r = regions.load(name)
                print(f"{name}\t{r.label_zh}\t{r.label_en}")
            return 0
        if args.command == "sample":
            from . import pipeline

            for folder in pipeline.generate_samples(args.region):
                print(f"sample county written to {folder}")
            return 0
    except runner.NotebookFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except AccessibilityError as exc:
        print(f"error: {exc}", file=sys.stderr)
        # input refused before anything ran: 2 for every command (as argparse's own
        # errors); a batch that could not start for another cause: 101
        refused = isinstance(exc, (ValidationError, UnknownRegionError))
        return 2 if refused or args.command != "batch" else 101
    except Exception as exc:
        if args.command != "batch":
            raise
        # e.g. a scheduler that cannot be reached: not to be read as "one run failed"
        logging.getLogger(__name__).debug("batch could not run", exc_info=True)
        print(f"error: the batch could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 101
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
