"""Open generated HTML maps (and other pages) in headless Chromium with the network cut off, and read what they show.

How it works
------------
Python Playwright (PyPI ``playwright``; its wheel ships its own driver) drives the
*system* Chromium — Debian's ``chromium`` at ``/usr/bin/chromium``, installed by
``make browser`` (which ``make setup``/``make test`` and ``.ci/run`` call) — and never
a browser Playwright would download (``playwright install`` is not used). Chromium
starts headless with the flags in :data:`CHROMIUM_FLAGS` and a fresh, empty profile
(Playwright makes a new temporary user-data directory per launch). Every request
that is not ``file:``/``data:``/``blob:`` is aborted and recorded, so a map that
needs the internet fails here the way it fails on an offline office machine.

The maps draw markers on a ``<canvas>`` (``prefer_canvas``), so there are no SVG
elements to count: :meth:`MapPage.state` asks Leaflet which circle markers are on
the map (village markers carry ``accIndex``) and reads the canvas pixel under each
village to check it was really painted. Layer names and their checked state are
read from the layer control's DOM, as a person sees them; so are the facility
groups (the radio buttons above the legend, ``.acc-groups``) and the colours of the
legend's swatches, which are compared with the colours the shown markers are drawn in.

Use
---
>>> with MapBrowser() as browser:                      # doctest: +SKIP
...     page = browser.open("maps/sample/facility_access.html")
...     page.state().villages, page.console_errors
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

#: Flags for headless Chromium on a machine without network access.
CHROMIUM_FLAGS: Final[tuple[str, ...]] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
#: Where screenshots go (git-ignored).
OUTPUT_DIR: Final[Path] = Path(__file__).resolve().parents[1] / "test-output"
#: What to do when Chromium or Playwright is missing.
INSTALL_HINT: Final[str] = (
    "headless Chromium is needed for the browser tests: run `make browser` as root "
    "(it runs `apt-get install chromium fonts-noto-cjk`), or set CHROMIUM=/path/to/chromium; "
    "`make setup` installs the Python package playwright (no browser download is used)"
)
_LOCAL = ("file:", "data:", "blob:", "about:")


class BrowserUnavailable(RuntimeError):
    """Chromium or Playwright is not installed; the message says how to install them."""


def chromium_executable() -> str:
    """Path of the system Chromium: ``$CHROMIUM``, else ``chromium`` on the PATH, else
    ``/usr/bin/chromium``.

    Raises
    ------
    BrowserUnavailable
        If none exists.
    """
    wanted = os.environ.get("CHROMIUM", "").strip()
    if wanted:
        if Path(wanted).is_file() or shutil.which(wanted):
            return shutil.which(wanted) or wanted
        msg = f"CHROMIUM={wanted} does not exist; {INSTALL_HINT}"
        raise BrowserUnavailable(msg)
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    msg = f"no Chromium found; {INSTALL_HINT}"
    raise BrowserUnavailable(msg)


@dataclass
class Layer:
    """One entry of the layer control as a person sees it."""

    name: str
    checked: bool


@dataclass
class MapState:
    """What an opened map shows right now."""

    #: Base layers (radio buttons) in the layer control, in order.
    base_layers: list[Layer]
    #: Overlays (check boxes) in the layer control, in order.
    overlays: list[Layer]
    #: Village markers on the map (in every shown overlay).
    villages: int
    #: Of those, markers whose centre pixel is painted (canvas) or whose path is in the DOM (SVG).
    villages_painted: int
    #: Other circle markers on the map (facilities).
    facilities: int
    #: Road polylines on the map (one per road class).
    road_lines: int
    #: Tile layers on the map.
    tile_layers: int
    #: Per overlay name: ``{"shown", "villages", "facilities"}`` from Leaflet.
    per_overlay: dict[str, dict[str, Any]]
    #: Text of the title box and of the legend.
    title: str
    legend: str
    #: The facility groups offered (radio buttons above the legend), in order.
    groups: list[Layer] = field(default_factory=list)
    #: Per group layer: ``{"shown", "villages", "facilities"}`` from Leaflet.
    per_group: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Title lines of the legend (``.acc-lt`` and ``.acc-lg``).
    legend_title: str = ""
    #: Fill and ring colours (``rgb(r, g, b)``) of the circles in the group layers shown.
    drawn_colours: list[str] = field(default_factory=list)
    #: Colours of the legend's swatches (fills and drawn borders), ``rgb(r, g, b)``.
    legend_colours: list[str] = field(default_factory=list)
    #: The colour each shown shape on the map is coded by (``rgb(r, g, b)``): the fill
    #: of filled shapes, the line of lines and unfilled rings; road lines (context,
    #: drawn in greys by class under one legend line) are left out.
    map_colours: list[str] = field(default_factory=list)
    #: Colours of the swatches of every legend box shown (group legend, overlay
    #: legends, the reading-circle legend).
    all_legend_colours: list[str] = field(default_factory=list)
    #: Bounding boxes ``[left, top, right, bottom]`` of the title banner and of each
    #: control in the top corners (zoom, verdicts, layers).
    title_box: list[float] = field(default_factory=list)
    top_controls: list[list[float]] = field(default_factory=list)

    def shown_overlays(self) -> list[str]:
        return [layer.name for layer in self.overlays if layer.checked]

    def shown_groups(self) -> list[str]:
        """Group layers Leaflet has on the map now."""
        return [name for name, layer in self.per_group.items() if layer["shown"]]

    def chosen_groups(self) -> list[str]:
        """Group radio buttons that are checked."""
        return [layer.name for layer in self.groups if layer.checked]

    def shown_base(self) -> list[str]:
        return [layer.name for layer in self.base_layers if layer.checked]


_STATE_JS = """
async () => {
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  const find = (re, test) => Object.keys(window).find((k) => re.test(k) && test(window[k]));
  const mapKey = find(/^map_[0-9a-f]+$/, (v) => v instanceof L.Map);
  if (!mapKey) throw new Error("no Leaflet map (var map_<id>) in the page");
  const map = window[mapKey];
  const ctlKey = find(/_layers$/, (v) => v && v.base_layers && v.overlays);
  const ctl = ctlKey ? window[ctlKey] : {base_layers: {}, overlays: {}};
  const dpr = window.devicePixelRatio || 1;
  const painted = (m) => {
    const r = m._renderer;
    if (r && r._ctx && r._bounds && m._point) {
      const x = Math.round((m._point.x - r._bounds.min.x) * dpr);
      const y = Math.round((m._point.y - r._bounds.min.y) * dpr);
      return r._ctx.getImageData(x, y, 1, 1).data[3] > 0;
    }
    return !!(m._path && document.contains(m._path));
  };
  const countIn = (layer) => {
    let villages = 0, facilities = 0;
    const walk = (l) => {
      if (l instanceof L.CircleMarker) {
        if (l.options.accIndex !== undefined) villages++; else facilities++;
      } else if (l.eachLayer) l.eachLayer(walk);
    };
    walk(layer);
    return {villages, facilities};
  };
  const perOverlay = {};
  for (const [name, layer] of Object.entries(ctl.overlays)) {
    perOverlay[name] = Object.assign({shown: map.hasLayer(layer)}, countIn(layer));
  }
  const accKey = find(/^access_layers_[0-9a-f]+$/, (v) => v && Array.isArray(v.groups));
  const acc = accKey ? window[accKey] : {groups: []};
  const unescape = (s) => {
    const t = document.createElement("textarea");
    t.innerHTML = s;
    return t.value;
  };
  const probe = document.createElement("span");
  document.body.appendChild(probe);
  const rgb = (c) => { probe.style.color = ""; probe.style.color = c; return getComputedStyle(probe).color; };
  const perGroup = {}, drawn = new Set();
  for (const e of acc.groups) {
    const shown = map.hasLayer(e.layer);
    perGroup[unescape(e.g.n)] = Object.assign({shown: shown}, countIn(e.layer));
    if (!shown) continue;
    e.layer.eachLayer((l) => {
      if (!(l instanceof L.CircleMarker)) return;
      if (l.options.fill !== false && l.options.fillOpacity > 0) drawn.add(rgb(l.options.fillColor));
      if (l.options.stroke !== false && l.options.weight > 0) drawn.add(rgb(l.options.color));
    });
  }
  const coded = new Set();
  map.eachLayer((l) => {
    if (!(l instanceof L.Path) || l.options.pane === "accRoads") return;
    if (l.options.fill !== false && l.options.fillOpacity > 0) coded.add(rgb(l.options.fillColor || l.options.color));
    else if (l.options.stroke !== false && l.options.weight > 0) coded.add(rgb(l.options.color));
  });
  probe.remove();
  const allSwatches = new Set();
  document.querySelectorAll(".acc-legend i, .acc-layer-legend i, .rc-legend i").forEach((el) => {
    const st = getComputedStyle(el);
    if (st.backgroundColor && st.backgroundColor !== "rgba(0, 0, 0, 0)") allSwatches.add(st.backgroundColor);
    if (el.textContent.trim()) allSwatches.add(st.color);  // a drawn sign (✕)
    for (const side of ["Top", "Right", "Bottom", "Left"]) {
      if (st["border" + side + "Style"] !== "none" && parseFloat(st["border" + side + "Width"]) > 0) {
        allSwatches.add(st["border" + side + "Color"]);
      }
    }
  });
  const box = (el) => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const titleEl = document.querySelector(".acc-title");
  const swatchColours = new Set();
  document.querySelectorAll(".acc-legend i").forEach((el) => {
    const st = getComputedStyle(el);
    if (st.backgroundColor && st.backgroundColor !== "rgba(0, 0, 0, 0)") swatchColours.add(st.backgroundColor);
    for (const side of ["Top", "Right", "Bottom", "Left"]) {
      if (st["border" + side + "Style"] !== "none" && parseFloat(st["border" + side + "Width"]) > 0) {
        swatchColours.add(st["border" + side + "Color"]);
      }
    }
  });
  const legendTitle = Array.from(document.querySelectorAll(".acc-legend .acc-lt, .acc-legend .acc-lg"))
    .map((el) => el.innerText.trim()).join("\\n");
  let villages = 0, villagesPainted = 0, facilities = 0, roadLines = 0, tileLayers = 0;
  map.eachLayer((l) => {
    if (l instanceof L.CircleMarker) {
      if (l.options.accIndex !== undefined) {
        villages++;
        if (painted(l)) villagesPainted++;
      } else facilities++;
    } else if (l instanceof L.Polyline && l.options.pane === "accRoads") roadLines++;
    else if (l instanceof L.TileLayer) tileLayers++;
  });
  const entries = (sel) => Array.from(document.querySelectorAll(sel + " label")).map((el) => ({
    name: el.textContent.trim(), checked: !!(el.querySelector("input") || {}).checked,
  }));
  const text = (sel) => (document.querySelector(sel) || {innerText: ""}).innerText;
  return {
    base_layers: entries(".leaflet-control-layers-base"),
    overlays: entries(".leaflet-control-layers-overlays"),
    villages, villages_painted: villagesPainted, facilities,
    road_lines: roadLines, tile_layers: tileLayers, per_overlay: perOverlay,
    title: text(".acc-title"), legend: text(".acc-legend"),
    groups: entries(".acc-groups"), per_group: perGroup, legend_title: legendTitle,
    drawn_colours: Array.from(drawn), legend_colours: Array.from(swatchColours),
    map_colours: Array.from(coded), all_legend_colours: Array.from(allSwatches),
    title_box: titleEl ? box(titleEl) : [],
    top_controls: Array.from(document.querySelectorAll(".leaflet-top .leaflet-control")).map(box),
  };
}
"""


@dataclass
class MapPage:
    """One opened map, with what the browser reported while it loaded and ran."""

    page: Any
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    #: Non-local requests the page tried (all aborted).
    blocked: list[str] = field(default_factory=list)

    def state(self) -> MapState:
        """Layer control entries and what Leaflet has on the map now."""
        raw = self.page.evaluate(_STATE_JS)
        return MapState(
            base_layers=[Layer(**e) for e in raw["base_layers"]],
            overlays=[Layer(**e) for e in raw["overlays"]],
            villages=raw["villages"],
            villages_painted=raw["villages_painted"],
            facilities=raw["facilities"],
            road_lines=raw["road_lines"],
            tile_layers=raw["tile_layers"],
            per_overlay=raw["per_overlay"],
            title=raw["title"],
            legend=raw["legend"],
            groups=[Layer(**e) for e in raw["groups"]],
            per_group=raw["per_group"],
            legend_title=raw["legend_title"],
            drawn_colours=raw["drawn_colours"],
            legend_colours=raw["legend_colours"],
            map_colours=raw["map_colours"],
            all_legend_colours=raw["all_legend_colours"],
            title_box=raw["title_box"],
            top_controls=raw["top_controls"],
        )

    def _entry(self, section: str, name: str) -> Any:
        pattern = re.compile(rf"^\s*{re.escape(name)}\s*$")
        where = ".acc-groups" if section == "groups" else f".leaflet-control-layers-{section}"
        entry = self.page.locator(f"{where} label").filter(has_text=pattern)
        if entry.count() != 1:
            msg = f"the layer control has {entry.count()} {section} entries named {name!r}"
            raise AssertionError(msg)
        return entry

    def set_overlay(self, name: str, *, on: bool) -> None:
        """Tick or untick an overlay in the layer control (a click, as a person would)."""
        entry = self._entry("overlays", name)
        if entry.locator("input").is_checked() != on:
            entry.click()

    def choose_base(self, name: str) -> None:
        """Choose a base layer in the layer control."""
        self._entry("base", name).click()

    def choose_group(self, name: str) -> None:
        """Choose a facility group (its radio button above the legend), as a person would."""
        self._entry("groups", name).click()

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        """Save a PNG of the page (the window, or ``full_page``) under ``test-output/``; return its path."""
        OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUTPUT_DIR / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.page.context.close()


class MapBrowser:
    """Headless system Chromium, launched once, opening maps with the network cut off."""

    def __init__(self, *, width: int = 1280, height: int = 900) -> None:
        self.viewport = {"width": width, "height": height}
        self._pw: Any = None
        self._browser: Any = None

    def __enter__(self) -> MapBrowser:
        executable = chromium_executable()
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            msg = f"the Python package playwright is not installed; {INSTALL_HINT}"
            raise BrowserUnavailable(msg) from exc
        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(
                executable_path=executable, args=list(CHROMIUM_FLAGS), headless=True
            )
        except Exception:
            self._pw.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._pw is not None:
            self._pw.stop()

    def open(self, path: Path | str, *, timeout_ms: int = 30_000) -> MapPage:
        """Open a local HTML map and wait until Leaflet has drawn it."""
        opened = self.open_page(path, timeout_ms=timeout_ms)
        opened.page.wait_for_function(
            "() => window.L && document.querySelector('.leaflet-control-layers')",
            timeout=timeout_ms,
        )
        return opened

    def open_page(self, path: Path | str, *, timeout_ms: int = 30_000) -> MapPage:
        """Open any local HTML file (e.g. an index page) with the network cut off; wait for ``load``."""
        context = self._browser.new_context(viewport=self.viewport, service_workers="block")
        page = context.new_page()
        opened = MapPage(page)

        def route(request_route: Any) -> None:
            url = request_route.request.url
            if url.startswith(_LOCAL):
                request_route.continue_()
            else:
                opened.blocked.append(url)
                request_route.abort("internetdisconnected")

        context.route("**/*", route)
        page.on(
            "console",
            lambda msg: opened.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda err: opened.page_errors.append(str(err)))
        page.goto(Path(path).resolve().as_uri(), wait_until="load", timeout=timeout_ms)
        return opened
