"""Chinese and English labels for everything people read: maps, legends, tables.

The wording lives in one data file, ``accessibility/rules/labels.yml``; this module
only looks it up. Keys are ``"section.name"``:

- ``kind.<kind>``: facility kinds (``kind.school`` → 学校 / School);
- ``tier.<tier>``: facility tiers (``tier.primary`` → 小学 / Primary school);
- ``level.<level>``: settlement levels (``level.admin_village`` → 行政村);
- ``mode.<mode>``: travel modes (``mode.ebike`` → 电动车);
- ``ui.<name>``: interface strings (``ui.travel_time`` → 出行时间);
- ``flag.<value>``: values of flag columns (``flag.far_from_road`` → 距道路过远);
- ``column.<name>``: column headers of exported tables (``column.population`` → 人口).
  Headers of per-group or per-threshold columns are templates with ``{group}``
  (a group's label) and ``{t}`` (minutes) to fill with :meth:`str.format`, e.g.
  ``column.group_time_min`` → ``到最近{group}的出行时间（分钟）``.

A *group* names what access is measured to: ``"kind"`` (every facility of that
kind) or ``"kind:tier"`` (facilities of that kind serving that tier), e.g.
``"school:primary"`` or ``"health"``.

Examples
--------
>>> label("tier.primary")
'小学'
>>> group_label("school:middle", lang="en")
'Middle school'
"""

from __future__ import annotations

import functools
import logging
from importlib import resources
from typing import Final

from accessibility._errors import ValidationError

from . import _yaml

__all__ = ["LANGS", "group_label", "keys", "label"]

logger = logging.getLogger(__name__)

#: Languages every label exists in.
LANGS: Final[tuple[str, ...]] = ("zh", "en")


@functools.cache
def _table() -> dict[str, dict[str, dict[str, str]]]:
    """Read and check ``rules/labels.yml`` and any ``rules/labels_*.yml`` (once per process).

    The extra files hold the wording of one topic each (e.g. one policy notebook); a
    section may not be defined in two files.
    """
    folder = resources.files("accessibility.rules")
    extra = sorted(
        f.name for f in folder.iterdir() if f.name.startswith("labels_") and f.name.endswith(".yml")
    )
    names = ["labels.yml", *extra]
    table: dict[str, dict[str, dict[str, str]]] = {}
    for file in names:
        raw = _yaml.load(folder.joinpath(file).read_text("utf-8"))
        if not isinstance(raw, dict):
            msg = f"accessibility/rules/{file} must map sections (kind, tier, ...) to entries"
            raise TypeError(msg)
        for section, entries in raw.items():
            if not isinstance(entries, dict):
                msg = f"{file}: section {section!r} must map names to {{zh: ..., en: ...}}"
                raise TypeError(msg)
            if str(section) in table:
                msg = f"{file}: section {section!r} is already defined in another labels file"
                raise TypeError(msg)
            table[str(section)] = {}
            for name, texts in entries.items():
                if not isinstance(texts, dict) or any(
                    not isinstance(texts.get(lang), str) or not texts[lang] for lang in LANGS
                ):
                    msg = f"{file}: {section}.{name} needs non-empty 'zh' and 'en' strings"
                    raise TypeError(msg)
                table[str(section)][str(name)] = {lang: texts[lang] for lang in LANGS}
    logger.debug("loaded %d label sections from %d files", len(table), len(names))
    return table


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        msg = f"lang must be one of {', '.join(map(repr, LANGS))}; got {lang!r}"
        raise ValidationError(msg)


def keys(section: str) -> list[str]:
    """Names defined in one section of the label table, in file order.

    Parameters
    ----------
    section
        ``"kind"``, ``"tier"``, ``"level"``, ``"mode"``, ``"ui"``, ``"flag"`` or
        ``"column"``.

    Returns
    -------
    list of str
        E.g. ``keys("kind") == ["school", "health", "reading", "bus"]``.
    """
    table = _table()
    if section not in table:
        msg = f"unknown label section {section!r}; use one of {', '.join(table)}"
        raise ValidationError(msg)
    return list(table[section])


def label(key: str, *, lang: str = "zh") -> str:
    """The text shown to people for one key.

    Parameters
    ----------
    key
        ``"section.name"``, e.g. ``"kind.school"``, ``"tier.primary"``,
        ``"level.admin_village"``, ``"mode.walk"``, ``"ui.travel_time"``.
    lang
        ``"zh"`` (Simplified Chinese) or ``"en"`` (English).

    Returns
    -------
    str

    Raises
    ------
    ValidationError
        If ``lang`` is not supported or the key is not in ``rules/labels.yml``.
    """
    _check_lang(lang)
    table = _table()
    section, dot, name = key.partition(".")
    if not dot or section not in table:
        msg = (
            f"unknown label key {key!r}: keys look like 'section.name' with section one of "
            f"{', '.join(table)}; add new wording to accessibility/rules/labels.yml"
        )
        raise ValidationError(msg)
    entries = table[section]
    if name not in entries:
        msg = (
            f"unknown label key {key!r}; known {section} names: {', '.join(entries)} "
            "(add new wording to accessibility/rules/labels.yml)"
        )
        raise ValidationError(msg)
    return entries[name][lang]


def group_label(group: str, *, lang: str = "zh") -> str:
    """Label of a group: the tier's label for ``"kind:tier"``, else the kind's.

    Parameters
    ----------
    group
        ``"kind"`` or ``"kind:tier"``.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    str
        E.g. ``group_label("school:primary") == "小学"``,
        ``group_label("health", lang="en") == "Health care"``.

    Raises
    ------
    ValidationError
        If ``lang`` is not supported, or the kind or tier is unknown (groups are
        parsed by :func:`accessibility.classify.parse_group`).
    """
    from accessibility.classify import parse_group  # the one parser of group strings

    _check_lang(lang)
    kind, tier = parse_group(group)
    return label(f"tier.{tier}" if tier else f"kind.{kind}", lang=lang)
