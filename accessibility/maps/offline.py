"""Self-contained HTML: Leaflet inlined, CDN assets dropped, the file written atomically.

In: a folium map. Out: one HTML document that loads nothing from the network
(:func:`render_html`), written by :func:`save_html` or shown in a notebook by
:func:`inline`.
"""

from __future__ import annotations

import base64
import functools
import html
import logging
import os
import re
import tempfile
from importlib import resources
from pathlib import Path

import folium

from accessibility._errors import ValidationError

from .base_layers import _LANG_ATTR, HTML_LANG
from .checks import _check_lang
from .payload import _js_json

logger = logging.getLogger(__package__)


#: CDN assets folium adds by default that a self-contained map does without.
_DROPPABLE = re.compile(
    r"jquery|bootstrap|awesome-markers|awesome\.rotate|fontawesome|font-awesome|glyphicons",
    re.IGNORECASE,
)
_SCRIPT_SRC = re.compile(
    r"<script\b[^>]*?\bsrc\s*=\s*(?:\"(?P<u1>[^\"]*)\"|'(?P<u2>[^']*)'|(?P<u3>[^\s>]+))"
    r"[^>]*>\s*</script\s*>",
    re.IGNORECASE,
)
_LINK = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(
    r"\bhref\s*=\s*(?:\"(?P<u1>[^\"]*)\"|'(?P<u2>[^']*)'|(?P<u3>[^\s>]+))", re.IGNORECASE
)
_INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc\s*=)[^>]*>(?P<body>.*?)</script\s*>", re.IGNORECASE | re.DOTALL
)
_JQUERY_USE = re.compile(r"(?<![\w$])(?:\$|jQuery)\s*[(.]")
_IMPORT = re.compile(r"@import\b", re.IGNORECASE)
_CSS_URL = re.compile(r"url\((?P<q>['\"]?)(?P<path>images/[^'\")]+)(?P=q)\)")
_EXTERNAL_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=", re.IGNORECASE)
_EXTERNAL_HREF = re.compile(r"<link\b[^>]*\bhref\s*=\s*[\"']?(?:https?:)?//", re.IGNORECASE)


def _url(match: re.Match[str]) -> str:
    return match.group("u1") or match.group("u2") or match.group("u3") or ""


def _basename(url: str) -> str:
    return url.split("?", 1)[0].split("#", 1)[0].rstrip("/").rsplit("/", 1)[-1].lower()


@functools.cache
def _leaflet_assets() -> tuple[str, str, dict[str, str]]:
    """Leaflet's JS, its CSS with images as data URIs, and the marker icon data URIs."""
    try:
        root = resources.files("js_lib_leaflet").joinpath("static", "js_lib_leaflet")
        js = root.joinpath("leaflet.js").read_text("utf-8")
        css = root.joinpath("leaflet.css").read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        msg = (
            "Leaflet's files were not found; install the 'django-js-lib-leaflet' package "
            "(it ships leaflet.js and leaflet.css) into this environment"
        )
        raise RuntimeError(msg) from exc

    def data_uri(rel: str) -> str:
        data = root.joinpath(*rel.split("/")).read_bytes()
        return "data:image/png;base64," + base64.b64encode(data).decode("ascii")

    css = _CSS_URL.sub(lambda mt: f'url("{data_uri(mt.group("path"))}")', css)
    icons = {
        "iconUrl": data_uri("images/marker-icon.png"),
        "iconRetinaUrl": data_uri("images/marker-icon-2x.png"),
        "shadowUrl": data_uri("images/marker-shadow.png"),
    }
    return js.replace("</script", "<\\/script"), css.replace("</style", "<\\/style"), icons


def render_html(m: folium.Map, *, lang: str | None = None) -> str:
    """Render a map to one HTML document that loads nothing from the network.

    Leaflet's JS and CSS are inlined (CSS images as ``data:`` URIs); folium's other
    default CDN assets (jQuery, Bootstrap, awesome-markers, Font Awesome, ...) are
    removed. Tile URLs inside the page's own script are kept (tiles are optional).
    The page says its language: ``<html lang="zh-CN">`` (``"en"`` in English).

    Parameters
    ----------
    m
        A folium map, e.g. from :func:`access_map`.
    lang
        ``"zh"`` or ``"en"``; default the language the map was made in (recorded by
        :func:`add_base_layers`), else ``"zh"``.

    Returns
    -------
    str
        The HTML document.

    Raises
    ------
    ValidationError
        If the map loads a script or stylesheet this function cannot inline
        (e.g. a folium plugin), or uses a removed library (awesome-markers icons
        from ``folium.Icon``, or jQuery).
    RuntimeError
        If the rendered page has no Leaflet script or an external asset survives.
    """
    lang = lang if lang is not None else getattr(m, _LANG_ATTR, "zh")
    _check_lang(lang)
    page = m.get_root().render()
    page = re.sub(
        r"<html\b[^>]*>", f'<html lang="{HTML_LANG[lang]}">', page, count=1, flags=re.IGNORECASE
    )
    js, css, icons = _leaflet_assets()

    inline_code = "\n".join(mt.group("body") for mt in _INLINE_SCRIPT.finditer(page))
    if "L.AwesomeMarkers" in inline_code:
        msg = (
            "the map uses folium.Icon (awesome-markers), which needs CDN scripts and fonts; "
            "draw points with folium.CircleMarker instead so the map works offline"
        )
        raise ValidationError(msg)
    if _JQUERY_USE.search(inline_code):
        msg = (
            "the map's script uses jQuery ($), which is not bundled; avoid features that need "
            "it (e.g. folium.Popup with an html Element, or Map(..., objects_to_stay_in_front))"
        )
        raise ValidationError(msg)

    unknown: list[str] = []
    found = {"js": 0, "css": 0}
    marker_fix = ""
    if "L.marker(" in inline_code:
        marker_fix = (
            '<script>L.Icon.Default.imagePath = "";'
            f"L.Icon.Default.mergeOptions({_js_json(icons)});</script>"
        )

    def replace_script(mt: re.Match[str]) -> str:
        url = _url(mt)
        if _basename(url) == "leaflet.js":
            found["js"] += 1
            return "" if found["js"] > 1 else f"<script>\n{js}\n</script>{marker_fix}"
        if _DROPPABLE.search(url):
            return ""
        unknown.append(url)
        return mt.group(0)

    def replace_link(mt: re.Match[str]) -> str:
        href = _HREF.search(mt.group(0))
        if href is None:
            return mt.group(0)
        url = _url(href)
        if _basename(url) == "leaflet.css":
            found["css"] += 1
            return "" if found["css"] > 1 else f"<style>\n{css}\n</style>"
        if _DROPPABLE.search(url):
            return ""
        unknown.append(url)
        return mt.group(0)

    page = _SCRIPT_SRC.sub(replace_script, page)
    page = _LINK.sub(replace_link, page)
    if unknown:
        msg = (
            f"the map loads {', '.join(unknown)} from outside the page; save_html can only "
            "inline Leaflet itself. Remove the plugin or element that adds these assets "
            "(or bundle them yourself) so the map works offline"
        )
        raise ValidationError(msg)
    if found["js"] == 0 or found["css"] == 0:
        msg = "the rendered map has no Leaflet <script>/<link> to replace; is it a folium.Map?"
        raise RuntimeError(msg)
    styles = re.findall(r"<style\b[^>]*>(.*?)</style\s*>", page, re.IGNORECASE | re.DOTALL)
    if (
        _EXTERNAL_SRC.search(page)
        or _EXTERNAL_HREF.search(page)
        or any(_IMPORT.search(s) for s in styles)
    ):
        msg = "an external script or stylesheet is still referenced after inlining Leaflet"
        raise RuntimeError(msg)
    return _CJK_ESCAPE.sub(_cjk_char, page)


#: ``\uXXXX`` escapes of CJK characters and full-width punctuation in the page's script
#: data (JSON is written ASCII-only), not preceded by an escaping backslash: written as
#: the characters themselves, half the bytes in UTF-8 and the same string to JavaScript.
_CJK_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u(3[0-9a-f]{3}|[4-9][0-9a-f]{3}|ff[0-9a-e][0-9a-f])")


def _cjk_char(mt: re.Match[str]) -> str:
    return mt.group(1) + chr(int(mt.group(2), 16))


def save_html(m: folium.Map, path: Path | str, *, lang: str | None = None) -> Path:
    """Write a map as one self-contained HTML file (see :func:`render_html`).

    The file is written to a temporary file in the same folder and then moved over
    ``path`` (atomic: readers never see a half-written map); missing parent
    folders are created.

    Parameters
    ----------
    m
        A folium map, e.g. from :func:`access_map`.
    path
        Output file, e.g. ``maps/<region>/<unit>_school.html``.
    lang
        Language of the page (``<html lang>``); default the map's own.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    page = render_html(m, lang=lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(page)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes it private; maps are for sharing
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    logger.info("wrote %s (%.0f kB)", path, path.stat().st_size / 1024)
    return path


class InlineMap:
    """A self-contained map shown inside a notebook (an ``<iframe srcdoc>``).

    Folium's own notebook display loads Leaflet from a CDN; this one carries
    Leaflet inline, so analysts without internet see the map too.
    """

    def __init__(self, page: str, *, height_px: int = 600) -> None:
        self.page = page
        self.height_px = int(height_px)

    def _repr_html_(self) -> str:
        srcdoc = html.escape(self.page, quote=True)
        return (
            f'<iframe srcdoc="{srcdoc}" style="width:100%;height:{self.height_px}px;border:none" '
            'sandbox="allow-scripts"></iframe>'
        )


def inline(m: folium.Map, *, height_px: int = 600) -> InlineMap:
    """Return an object that displays ``m`` in a notebook without any network access."""
    return InlineMap(render_html(m), height_px=height_px)
