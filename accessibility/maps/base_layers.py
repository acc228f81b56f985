"""Base layers of a map: the offline background (with main roads), OpenStreetMap and Tianditu tiles.

In: a folium map, its language, optional roads and a Tianditu key (argument or
``$TIANDITU_KEY``). Out: the base-layer choices, a metric scale bar and the map's
language recorded for :func:`~accessibility.maps.render_html`.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Final

import folium
import geopandas as gpd
from branca.element import MacroElement
from folium.template import Template

from accessibility._errors import ValidationError
from accessibility.labels import label

from .checks import _check_lang
from .roads import _road_payload, _RoadLines, simplify_roads
from .style import BACKGROUND_COLOUR

logger = logging.getLogger(__package__)


#: Environment variable holding a Tianditu (天地图) browser key (``tk``).
TIANDITU_ENV: Final[str] = "TIANDITU_KEY"
#: Tianditu WMTS tiles in Web Mercator ("_w"); ``{s}`` is one of the subdomains t0–t7.
_TIANDITU_URL: Final[str] = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
    "&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
    "&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
)
_TIANDITU_SUBDOMAINS: Final[str] = "01234567"
_TIANDITU_ATTR: Final[str] = '&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>'


def get_tianditu_key(key: str | None = None) -> str | None:
    """The Tianditu browser key to use: ``key``, else ``$TIANDITU_KEY``, else ``None``.

    Parameters
    ----------
    key
        A key given explicitly; ``None`` reads the environment variable
        :data:`TIANDITU_ENV`; an empty string means no Tianditu layer.

    Returns
    -------
    str or None
        The key (letters and digits), or ``None`` when none is set.

    Raises
    ------
    ValidationError
        If the key holds anything but letters and digits (the key itself is not
        repeated in the message).
    """
    source = "the tianditu_key argument"
    if key is None:
        key, source = os.environ.get(TIANDITU_ENV, ""), f"${TIANDITU_ENV}"
    key = key.strip()
    if not key:
        return None
    if not re.fullmatch(r"[0-9A-Za-z]{8,128}", key):
        msg = (
            f"the Tianditu key in {source} must be the letters and digits of a browser key "
            f"(the 'tk' shown at console.tianditu.gov.cn); it has {len(key)} characters, "
            "some of them not letters or digits"
        )
        raise ValidationError(msg)
    return key


class _Background(MacroElement):
    """Sets the map's background colour (seen where no tiles are drawn)."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>#{{ this._parent.get_name() }} { background: {{ this.colour }}; }</style>
        {% endmacro %}
        """
    )

    def __init__(self, colour: str) -> None:
        super().__init__()
        self._name = "Background"
        self.colour = colour


class _MetricScale(MacroElement):
    """A scale bar in metres and kilometres only (no miles or feet), bottom right."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            L.control.scale({
                position: "bottomright", metric: true, imperial: false, maxWidth: 160
            }).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MetricScale"


#: The ``<html lang>`` of a page in each language.
HTML_LANG: Final[dict[str, str]] = {"zh": "zh-CN", "en": "en"}
#: Attribute of a map that records its language (set by :func:`add_base_layers`).
_LANG_ATTR: Final[str] = "_acc_lang"


def add_base_layers(
    m: folium.Map,
    *,
    lang: str,
    roads: gpd.GeoDataFrame | None = None,
    tianditu_key: str | None = None,
    tiles: bool = True,
) -> list[str]:
    """Add the base-layer choices (radio buttons in the layer control) to a map.

    1. **No basemap** (shown when the map opens, works offline): a light
       background and, when ``roads`` is given, the main roads as thin grey lines
       (see :func:`simplify_roads`) carried inside the page.
    2. **OpenStreetMap** tiles (``tiles=True``; need internet).
    3. **Tianditu (天地图)** vector tiles with their annotation layer (Chinese, or
       English with ``lang="en"``), when a key is given or set in ``$TIANDITU_KEY``
       (``tiles=True``; need internet). The key ends up in the page, as Tianditu
       browser keys are meant to.

    Add a :class:`folium.LayerControl` after this (and after the overlays) to
    let people switch. Tile layers are decoration: markers, legend and outline
    never depend on them. The map also gets a metric scale bar (bottom right; any
    scale folium would add in miles and feet is turned off) and remembers ``lang``
    for the ``<html lang>`` of :func:`render_html`.

    Parameters
    ----------
    m
        The map (created with ``tiles=None``).
    lang
        ``"zh"`` or ``"en"`` for the layer names.
    roads
        Optional road lines in EPSG:4326 with ``highway`` (e.g.
        :func:`main_roads` of the study's network); only trunk, primary,
        secondary and tertiary roads are drawn.
    tianditu_key
        Tianditu browser key; ``None`` reads ``$TIANDITU_KEY``; ``""`` never adds it.
    tiles
        Offer web tiles at all; ``False`` keeps only the offline base layer.

    Returns
    -------
    list of str
        Names of the base layers added, the one shown first.

    Raises
    ------
    ValidationError
        Bad ``lang``, bad ``roads`` (see :func:`simplify_roads`) or a malformed key.
    """
    _check_lang(lang)
    key = get_tianditu_key(tianditu_key) if tiles else None
    simple = simplify_roads(roads) if roads is not None else None
    has_roads = simple is not None and not simple.empty
    m.add_child(_Background(BACKGROUND_COLOUR))
    m.control_scale = False  # folium's scale shows miles and feet too
    m.add_child(_MetricScale())
    setattr(m, _LANG_ATTR, lang)

    names = [label("ui.basemap_roads" if has_roads else "ui.basemap_none", lang=lang)]
    offline = folium.FeatureGroup(name=names[0], overlay=False, control=tiles, show=True)
    if has_roads:
        offline.add_child(_RoadLines(m.get_name(), _road_payload(simple)))
    m.add_child(offline)

    if tiles:
        names.append(label("ui.basemap_osm", lang=lang))
        folium.TileLayer(
            "OpenStreetMap", name=names[-1], overlay=False, control=True, show=False
        ).add_to(m)
    if key is not None:
        names.append(label("ui.basemap_tianditu", lang=lang))
        tianditu = folium.FeatureGroup(name=names[-1], overlay=False, control=True, show=False)
        for layer in ("vec", "cva" if lang == "zh" else "eva"):  # roads, then place names
            folium.TileLayer(
                _TIANDITU_URL.format(layer=layer, key=key),
                attr=_TIANDITU_ATTR,
                subdomains=_TIANDITU_SUBDOMAINS,
                max_zoom=18,
                overlay=False,
                control=False,
                show=True,
            ).add_to(tianditu)
        m.add_child(tianditu)
        logger.info(
            "Tianditu base layer added (key from %s)",
            "the argument" if tianditu_key else f"${TIANDITU_ENV}",
        )
    return names
