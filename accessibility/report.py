"""What a notebook run left out, and why: one list of notes shared by every output.

Design
------
In:  the sections a notebook skips because their inputs are not in the data (no
     township seats, no school of a tier, no reading place), each with a reason from
     the ``skip`` labels of ``rules/labels*.yml``.
Out: a :class:`Notes` object the notebook fills and then hands to every output:
     shown in the notebook (Markdown), written into ``<nb>_figures.json`` as
     ``warnings`` (:func:`accessibility.export.write_figures`, read by the batch,
     which records the run as ok with warnings, and shown on the index page), on
     the map's title box (``notes=`` of :func:`accessibility.maps.access_map`) and
     as a sheet of the workbook (:meth:`Notes.table`).
Tests: ``tests/test_report.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pandas as pd

from ._errors import ValidationError
from .labels import LANGS, label

__all__ = ["Notes"]

log = logging.getLogger(__name__)


class Notes:
    """Sections a run skipped, each with a stated reason in Chinese and English.

    Examples
    --------
    >>> notes = Notes()
    >>> notes.skip("road_links", "no_township_seats")
    >>> notes.texts("en")[0].startswith("Township road links")
    True
    """

    def __init__(self) -> None:
        self._items: list[dict[str, str]] = []

    def skip(self, section: str, reason: str, **fields: Any) -> None:
        """Record that ``section`` was skipped for ``reason`` and log it as a warning.

        Parameters
        ----------
        section
            Key of the section, labelled by ``skip_section.<section>`` (e.g.
            ``"road_links"``, ``"tier"``).
        reason
            Key of the reason, labelled by ``skip.<reason>`` (e.g.
            ``"no_township_seats"``).
        **fields
            Values for the labels' ``{placeholders}`` (strings, or ``(zh, en)`` pairs).
        """
        texts = {}
        for i, lang in enumerate(LANGS):
            filled = {k: (v[i] if isinstance(v, tuple) else v) for k, v in fields.items()}
            try:
                head = label(f"skip_section.{section}", lang=lang).format(**filled)
                why = label(f"skip.{reason}", lang=lang).format(**filled)
            except KeyError as exc:
                msg = f"note {section!r}/{reason!r}: give the placeholder {exc.args[0]!r}"
                raise ValidationError(msg) from None
            texts[lang] = f"{head}{'：' if lang == 'zh' else ': '}{why}"
        item = {"section": section, "zh": texts["zh"], "en": texts["en"]}
        if item not in self._items:
            self._items.append(item)
            log.warning("skipped: %s", texts["en"])

    def __iter__(self) -> Iterator[dict[str, str]]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def texts(self, lang: str = "zh") -> list[str]:
        """The notes as sentences in ``lang``."""
        if lang not in LANGS:
            msg = f"lang must be one of {', '.join(LANGS)}; got {lang!r}"
            raise ValidationError(msg)
        return [item[lang] for item in self._items]

    def table(self, lang: str = "zh") -> pd.DataFrame:
        """One row per note: ``section`` and ``note`` (in ``lang``), for a workbook sheet."""
        return pd.DataFrame(
            {
                "section": [item["section"] for item in self._items],
                "note": self.texts(lang),
            }
        )

    def sheets(self, lang: str = "zh") -> dict[str, pd.DataFrame]:
        """``{"notes": table}`` when there are notes, else ``{}`` (to add to a workbook's sheets)."""
        return {"notes": self.table(lang)} if self._items else {}

    def _repr_markdown_(self) -> str:
        if not self._items:
            return f"_{label('ui.notes_none')}_ / _{label('ui.notes_none', lang='en')}_"
        return "\n".join(f"- ⚠ {item['zh']}  \n  {item['en']}" for item in self._items)

    def __repr__(self) -> str:
        return f"Notes({[item['section'] for item in self._items]})"
