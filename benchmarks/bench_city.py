"""Benchmark of the 15-minute reading circle on a generated central city (issue 16).

The city is ``benchmarks/citylike.py``: by default 12 × 12 km, a street every 150 m
(about 160,000 road nodes), 38,400 apartment buildings, 60 libraries. It is written
into a fresh project root with a region file (``source: osm_file``), the
``reading_circle`` notebook is run once to fill the caches (clip, networks), and then
measured on cached data:

- the notebook end to end (``accessibility run``, a child process): wall time, peak
  memory (of the largest process, the kernel, and of the command and the kernel
  together), and the seconds of each of its cells as papermill recorded them in the
  executed copy;
- the same work in stages, in this process, each timed, called as the notebook's
  cells call it: prepare (boundary, read of the cached clip, origins, network load,
  snapping, router), the data audit, the assessment (residents, snapping, searches,
  isochrones, each plan's solve), verdicts, the map, and the outputs (HTML map, PNG,
  GeoPackage, workbook, CSV);
- the sizes of the HTML map, the PNG and the executed notebook;
- with ``--baseline``: the exact plans as they were solved before (scipy's HiGHS,
  cold, 60 s per model) beside the new ones (greedy start, time limit), in the same
  run.

Usage::

    .venv/bin/python benchmarks/bench_city.py [--side-km 12] [--spacing-m 150]
        [--buildings-per-block 6] [--reading-places 60] [--quick] [--baseline]
        [--root DIR] [--json out.json]

Prints a table (stdout) and writes all numbers, each plan's model size included, to
``benchmarks/results/city.json`` (or ``--json``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import citylike

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "city.json"
REGION = "citybench"


def _region_file(root: Path, city: citylike.City) -> Path:
    path = root / "regions" / f"{REGION}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    west, south, east, north = city.bbox()
    path.write_text(
        "label_zh: 生成的中心城区\n"
        "label_en: Generated central city\n"
        "synthetic: true\n"
        "source: {kind: osm_file, path: city.osm.pbf}\n"
        f"boundary: {{bbox: [{west}, {south}, {east}, {north}]}}\n"
        "buffer_m: 1500\n"
        "origins: {kind: auto}\n",
        encoding="utf-8",
    )
    return path


def _run_notebook(root: Path) -> dict[str, Any]:
    """``accessibility run`` in a child process: wall seconds and peak memory.

    ``peak_mb`` is the largest resident set of any one process under it (the kernel),
    from ``getrusage(RUSAGE_CHILDREN)`` in a small wrapper process; ``tree_peak_mb`` the
    largest sum of resident memory of the command and its kernel together, sampled
    every 0.1 s with psutil (when installed).
    """
    code = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.run([sys.executable, '-m', 'accessibility.cli', '--root', sys.argv[1], 'run',"
        " '--region', sys.argv[2], '--notebook', 'reading_circle'], capture_output=True, text=True)\n"
        "s = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps({'seconds': s, 'peak_mb': peak, 'rc': rc.returncode, 'err': rc.stderr[-2000:]}))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(root), REGION],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    tree_peak = _sample_tree(proc)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"the benchmark's wrapper failed:\n{stderr[-2000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    if result["rc"] != 0:
        raise SystemExit(f"the notebook failed:\n{result['err']}")
    result["tree_peak_mb"] = tree_peak
    return result


def _sample_tree(proc: subprocess.Popen[str]) -> float | None:
    """Largest sum of RSS of ``proc``'s descendants (not ``proc`` itself) until it ends, MB."""
    try:
        import psutil  # noqa: F401  (the batch's sampler needs it)
    except ImportError:
        proc.wait()
        return None
    from accessibility.batch import descendants_rss

    peak = 0
    while proc.poll() is None:
        peak = max(peak, descendants_rss(proc.pid))
        time.sleep(0.1)
    return peak / 2**20


class _Timer:
    """Wraps functions of modules and adds up their seconds by stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - t0

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def restore(self) -> None:
        for undo in reversed(self._undo):
            undo()


def _stages(root: Path, *, baseline: bool) -> dict[str, Any]:
    """The notebook's work called directly, as its cells call it, each stage timed
    (cached data)."""
    import accessibility as acc
    import accessibility.static_map
    from accessibility import engine, export, isochrones, maps, network, pipeline, siting, snapping
    from accessibility.policies import claims as measures
    from accessibility.policies import reading_circle

    minutes, lang, walk_kmh = 15, "zh", 4.5
    acc.configure(root=root, progress=False, walk_speed_kmh=walk_kmh)
    out: dict[str, Any] = {}
    # prepare: boundary, the cached clip, origins, the cached network, snapping, router
    timer = _Timer()
    timer.wrap(pipeline.boundaries, "study_area", "boundary")
    timer.wrap(pipeline.assemble, "load_osm", "osm_read")
    timer.wrap(pipeline.assemble, "_choose_origins", "origins")
    timer.wrap(pipeline.assemble, "_origin_population", "origins")
    timer.wrap(network, "load_or_build", "network_load")
    timer.wrap(snapping, "snap", "prepare_snap")
    timer.wrap(engine.Router, "build", "router")
    t0 = time.perf_counter()
    try:
        study = acc.pipeline.prepare(
            REGION,
            mode="walk",
            speed_overrides=reading_circle.walk_speed_overrides(walk_kmh),
            origin_levels=["admin_village"],
        )
    finally:
        timer.restore()
    out["prepare_s"] = time.perf_counter() - t0
    out.update({f"{k}_s": v for k, v in timer.seconds.items()})
    t0 = time.perf_counter()
    acc.audit.write(study, "reading_circle_audit", lang=lang)
    out["audit_s"] = time.perf_counter() - t0
    # assess: residents, snapping, searches, isochrones, each plan's solve
    timer = _Timer()
    timer.wrap(reading_circle.assessment, "estimate_population", "residents")
    timer.wrap(snapping, "snap", "snap")
    timer.wrap(engine.Router, "nearest", "searches")
    timer.wrap(engine.Router, "pairs_within", "searches")
    timer.wrap(engine.Router, "node_times", "searches")
    timer.wrap(isochrones, "polygons", "isochrones")
    timer.wrap(siting, "greedy", "greedy")
    timer.wrap(siting, "exact", "exact")
    inputs: list[dict[str, Any]] = []
    timed_exact = siting.exact

    def keep_inputs(coverage: Any, weights: Any, **kw: Any) -> Any:
        inputs.append({"coverage": coverage, "weights": weights, **kw})
        return timed_exact(coverage, weights, **kw)

    siting.exact = keep_inputs
    assess_kw: dict[str, Any] = dict(
        minutes=minutes,
        kinds=["reading"],
        population="auto",
        targets=[0.95, 1.0],
        claim_target=acc.verdicts.target_for(study, "reading_circle"),
    )
    try:
        t0 = time.perf_counter()
        result = reading_circle.assess(study, **assess_kw)
        out["assess_s"] = time.perf_counter() - t0
    finally:
        siting.exact = timed_exact
        timer.restore()
    out.update({f"{k}_s": v for k, v in timer.seconds.items()})
    t0 = time.perf_counter()
    notes = acc.report.Notes()
    result.note_missing(notes)
    verdicts = acc.verdicts.judge_all(study, measures.reading_circle(result))
    out["verdicts_s"] = time.perf_counter() - t0
    # the map and the outputs, as the notebook's last cell writes them (into a copy)
    t0 = time.perf_counter()
    ui_title = acc.labels.label("reading_ui.title", lang=lang).format(minutes=f"{minutes:g}")
    title = f"{study.label(lang)} · {ui_title}"
    fmap = reading_circle.map(
        result, title=title, lang=lang, boundary=study.boundary,
        synthetic=study.region.synthetic, source_note=study.data_note(lang, origins=False),
        notes=notes,
    )  # fmt: skip
    out["map_build_s"] = time.perf_counter() - t0
    timer = _Timer()
    timer.wrap(maps, "save_html", "map_write")
    timer.wrap(accessibility.static_map, "render_png", "png")
    timer.wrap(export, "write_geopackage", "geopackage")
    timer.wrap(export, "write_excel", "workbook")
    timer.wrap(export, "write_csv", "csv_figures")
    timer.wrap(export, "write_figures", "csv_figures")
    residents, reading_places = reading_circle.static_map_layers(result)
    t0 = time.perf_counter()
    try:
        paths = acc.outputs.publish(
            study, "reading_circle_bench", fmap=fmap, verdicts=verdicts, notes=notes,
            lang=lang,
            summary=reading_circle.labelled(result.summary, lang=lang, headers=False),
            layers=result.layers(),
            sheets=reading_circle.excel_tables(result, lang=lang),
            headers=reading_circle.excel_headers(lang=lang),
            figures=reading_circle.key_figures(result),
            png=dict(
                places=residents, facilities=reading_places, group="reading",
                thresholds_min=[minutes], title=title, lang=lang,
                subtitle=reading_circle.png_subtitle(residents, lang=lang),
                roads=acc.maps.main_roads(study.network), synthetic=study.region.synthetic,
            ),
        )  # fmt: skip
    finally:
        timer.restore()
    out["publish_s"] = time.perf_counter() - t0
    out.update({f"{k}_s": v for k, v in timer.seconds.items()})
    out["map_mb"] = Path(paths["map"]).stat().st_size / 1e6
    out["png_mb"] = Path(paths["png"]).stat().st_size / 1e6
    out["residents"] = float(result.population["population"].sum())
    out["residence_points"] = len(result.population)
    out["reading_places"] = len(result.facilities)
    out["network_nodes"] = int(study.network.n_nodes)
    out["origins"] = int(study.meta["origins"])
    out["origins_kind"] = study.meta["origins_kind"]
    out["coverage"] = float(result.summary.loc["current", "share"])
    out["plans"] = {
        key: {
            "sites": len(plan.sites),
            "share_after": plan.share_after,
            "share": float(result.summary.loc[key, "share"]),
            "status": plan.status,
            **{
                k: plan.meta.get(k)
                for k in (
                    "seconds", "candidates", "model_candidates", "dominated_candidates",
                    "model_demand", "variables", "proof", "gap", "bound", "seconds_fewest",
                    "seconds_tie_break", "coverage_proof", "coverage_gap",
                )
            },
        }
        for key, plan in result.plans.items()
    }  # fmt: skip
    out["demand_points"] = int(result.meta["demand_points"])
    if baseline:
        out["baseline_exact"] = _baseline_exact(inputs)
        # the same assessment without merging residents for the searches and models
        t0 = time.perf_counter()
        plain = reading_circle.assess(study, **assess_kw, merge_m=None)
        out["unmerged"] = {
            "assess_s": time.perf_counter() - t0,
            "demand_points": int(plain.meta["demand_points"]),
            "plans": {
                key: {
                    "sites": int(plain.summary.loc[key, "new_sites"]),
                    "share": float(plain.summary.loc[key, "share"]),
                    "merged_share": float(result.summary.loc[key, "share"]),
                }
                for key in plain.plans
            },
        }
    return out


def _baseline_exact(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The exact plans as solved before: scipy's HiGHS, cold start, the tie-break objective,
    60 s per model, on the same coverage the new solver got."""
    import numpy as np
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, milp

    out = {}
    for case in inputs:
        m = sparse.csr_matrix(case["coverage"])
        m.data[:] = 1.0
        weights = np.asarray(case["weights"], dtype=float)
        covered = np.asarray(case["covered"], dtype=bool)
        m = m[:, ~covered]
        w = weights[~covered]
        hit = np.asarray(m.sum(axis=0)).ravel() > 0
        m, w = m[:, hit].tocsc(), w[hit]
        # demand points covered by the same candidates merged, as before
        keys: dict[bytes, int] = {}
        groups = np.array(
            [
                keys.setdefault(m.indices[m.indptr[c] : m.indptr[c + 1]].tobytes(), len(keys))
                for c in range(m.shape[1])
            ]
        )
        n_x, n_y = m.shape[0], len(keys)
        wg = np.bincount(groups, weights=w, minlength=n_y)
        r, c = m.nonzero()
        g = sparse.csr_matrix((np.ones(r.size), (groups[c], r)), shape=(n_y, n_x))
        g.data[:] = 1.0
        total = weights.sum()
        need = min(case["target"] * total - weights[covered].sum(), wg.sum()) - 1e-9 * total
        t0 = time.perf_counter()
        res = milp(
            np.r_[np.ones(n_x), -0.5 * wg / total],
            constraints=[
                LinearConstraint(
                    sparse.hstack([-g, sparse.identity(n_y)], format="csr"), -np.inf, 0.0
                ),
                LinearConstraint(
                    sparse.csr_matrix(np.r_[np.zeros(n_x), wg / total][None, :]),
                    need / total,
                    np.inf,
                ),
            ],
            integrality=np.ones(n_x + n_y),
            bounds=Bounds(0, 1),
            options={"time_limit": 60.0, "mip_rel_gap": 1e-9},
        )
        out[f"{case['target']:g}"] = {
            "seconds": time.perf_counter() - t0,
            "status": "optimal"
            if res.status == 0
            else "time_limit"
            if res.status == 1
            else str(res.status),
            "sites": round(res.x[:n_x].sum()) if res.x is not None else None,
            "variables": n_x + n_y,
        }
    return out


#: the notebook's code cells by what they do (in order, parameter cells left out)
_CELLS = ("imports", "prepare + audit + assess", "summary table", "uncovered by area",
          "plan sites", "verdicts", "map + publish (HTML, PNG, GeoPackage, workbook)",
          "map inline")  # fmt: skip


def _cell_seconds(executed: Path) -> dict[str, Any]:
    """Seconds of each code cell of the executed notebook (papermill's own timing)."""
    nb = json.loads(executed.read_text(encoding="utf-8"))
    cells = [
        c for c in nb["cells"]
        if c["cell_type"] == "code" and "parameters" not in c["metadata"].get("tags", [])
        and "injected-parameters" not in c["metadata"].get("tags", [])
    ]  # fmt: skip
    seconds = [float(c["metadata"].get("papermill", {}).get("duration") or 0.0) for c in cells]
    names = (
        list(_CELLS) if len(_CELLS) == len(seconds) else [f"cell {i}" for i in range(len(seconds))]
    )
    return {
        "kernel_s": float(nb["metadata"]["papermill"]["duration"]),
        "cells": dict(zip(names, seconds)),
        "executed_notebook_mb": executed.stat().st_size / 1e6,
    }


def _table(record: dict[str, Any]) -> str:
    """The measured numbers as a plain text table."""
    st = record["stages"]
    rows: list[tuple[str, str]] = [
        ("road nodes / buildings / libraries (generated)",
         f"{record['city']['road_nodes']:,} / {record['city']['buildings']:,} / {record['city']['libraries']}"),
        ("network nodes (walk)", f"{st['network_nodes']:,}"),
        ("residence points / residents", f"{st['residence_points']:,} / {st['residents']:,.0f}"),
        ("origins", f"{st['origins']:,} ({st['origins_kind']})"),
        ("covered now", f"{st['coverage']:.1%}"),
        ("notebook, first run (fills caches)", f"{record['notebook_first_s']:.1f} s"),
        ("notebook end to end, cached data", f"{record['notebook_s']:.1f} s"),
        ("  outside papermill (CLI start, region checks)",
         f"{record['notebook_s'] - record['notebook_cells']['kernel_s']:.1f} s"),
        ("  papermill (kernel start to last cell)", f"{record['notebook_cells']['kernel_s']:.1f} s"),
    ]  # fmt: skip
    for name, sec in record["notebook_cells"]["cells"].items():
        rows.append((f"    cell: {name}", f"{sec:.2f} s"))
    rows += [
        ("peak memory, largest process (kernel)", f"{record['notebook_peak_mb']:,.0f} MB"),
        (
            "peak memory, command + kernel together",
            f"{record['notebook_tree_peak_mb']:,.0f} MB"
            if record["notebook_tree_peak_mb"] is not None
            else "(psutil not installed)",
        ),
        ("HTML map / PNG", f"{record['html_mb']:.2f} MB / {record['png_mb']:.2f} MB"),
        ("executed notebook", f"{record['notebook_cells']['executed_notebook_mb']:.2f} MB"),
        ("in process:", ""),
    ]
    for key in ("prepare", "boundary", "osm_read", "origins", "network_load", "prepare_snap",
                "router", "audit", "assess", "residents", "snap", "searches", "isochrones",
                "greedy", "exact", "verdicts", "map_build", "publish", "map_write", "png",
                "geopackage", "workbook", "csv_figures"):  # fmt: skip
        if f"{key}_s" in st:
            indent = (
                "  "
                if key in ("prepare", "audit", "assess", "verdicts", "map_build", "publish")
                else "    "
            )
            rows.append((f"{indent}{key}", f"{st[key + '_s']:.2f} s"))
    for key, plan in st["plans"].items():
        size = (
            f", {plan['model_candidates']:,} of {plan['candidates']:,} candidates kept, "
            f"{plan['model_demand']:,} demand groups, {plan['variables']:,} variables"
            if plan.get("variables") else f", {plan['candidates']:,} candidates"
        )  # fmt: skip
        proof = f", {plan['proof']}" if plan.get("proof") else ""
        if plan.get("coverage_proof"):
            proof += f" (tie-break {plan['coverage_proof']}, gap {plan['coverage_gap']:.2%})"
        rows.append(
            (f"  plan {key}", f"{plan['sites']} sites, {plan['seconds']:.2f} s{proof}{size}")
        )
    for key, base in st.get("baseline_exact", {}).items():
        rows.append(
            (
                f"  exact {key} as before",
                f"{base['sites']} sites, {base['seconds']:.1f} s ({base['status']})",
            )
        )
    if "unmerged" in st:
        um = st["unmerged"]
        rows.append(
            (
                "  residents merged for the models",
                f"{st['residence_points']:,} points to {st['demand_points']:,} "
                f"(unmerged run: {um['demand_points']:,}, assess {um['assess_s']:.1f} s)",
            )
        )
        for key, plan in st["plans"].items():
            rows.append(
                (
                    f"    {key}: the model (merged) / every resident",
                    f"{plan['share_after']:.4%} / {plan['share']:.4%} "
                    f"({100 * (plan['share_after'] - plan['share']):+.3f} points)",
                )
            )
        for key, plan in um["plans"].items():
            rows.append(
                (
                    f"    {key} merged / unmerged",
                    f"{plan['merged_share']:.4%} / {plan['share']:.4%} "
                    f"({100 * (plan['merged_share'] - plan['share']):+.3f} points; "
                    f"{plan['sites']} sites unmerged)",
                )
            )
    width = max(len(r[0]) for r in rows)
    return "\n".join(f"{a:<{width}}  {b}" for a, b in rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side-km", type=float, default=12.0)
    ap.add_argument("--spacing-m", type=float, default=150.0)
    ap.add_argument("--node-spacing-m", type=float, default=12.5)
    ap.add_argument("--buildings-per-block", type=int, default=6)
    ap.add_argument("--reading-places", type=int, default=60)
    ap.add_argument("--villages", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="a 3 km city")
    ap.add_argument("--baseline", action="store_true", help="also solve the exact plans as before")
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    city = citylike.City(
        side_km=3.0 if args.quick else args.side_km,
        spacing_m=args.spacing_m,
        node_spacing_m=args.node_spacing_m,
        buildings_per_block=args.buildings_per_block,
        reading_places=args.reading_places if not args.quick else max(4, args.reading_places // 16),
        villages=args.villages,
    )
    root = args.root or Path(tempfile.mkdtemp(prefix="bench-city-"))
    src = root / "data" / "raw" / REGION / "city.osm.pbf"
    t0 = time.perf_counter()
    counts = citylike.write(city, src)
    gen_s = time.perf_counter() - t0
    _region_file(root, city)
    print(f"city in {root}: {counts} ({gen_s:.1f} s)", file=sys.stderr)
    first = _run_notebook(root)  # fills the caches
    print(f"first run (caches filled): {first['seconds']:.1f} s", file=sys.stderr)
    cached = _run_notebook(root)
    maps_dir = root / "maps" / REGION
    cells = _cell_seconds(root / "runs" / REGION / "reading_circle.ipynb")
    stages = _stages(root, baseline=args.baseline)
    record = {
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "city": counts,
        "notebook_first_s": first["seconds"],
        "notebook_s": cached["seconds"],
        "notebook_peak_mb": cached["peak_mb"],
        "notebook_tree_peak_mb": cached["tree_peak_mb"],
        "html_mb": (maps_dir / "reading_circle.html").stat().st_size / 1e6,
        "png_mb": (maps_dir / "reading_circle.png").stat().st_size / 1e6,
        "notebook_cells": cells,
        "stages": stages,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n")
    print(_table(record))
    print(f"numbers in {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
