"""Verdicts: does each claim of the report hold in this place, by these data?

Design
------
In
    The claims, as data (``rules/claims.yml``: statement, measure, target,
    comparison, the conditions under which the data suffice); a :class:`Measure`
    per claim from the policy that measured it (:mod:`accessibility.policies.claims`);
    the facts of the prepared study (:func:`facts`: what the data hold inside the
    unit — villages or grid cells, township seats, the county seat, facilities of
    each officially counted kind); the official counts of the region file
    (``official:``, for the region or per unit).
Out
    One :class:`Verdict` per claim and unit: ``holds`` (成立), ``not_met``
    (不成立) or ``cannot_tell`` (数据不足) with the reason, the measured value, the
    target, the evidence (counts, the worst places by name), the completeness of
    each officially counted kind, and how sure it is. Rendered here for people: a
    table (the first sheet of every workbook), records (``<nb>_figures.json``), a
    map panel, PNG lines, and a notebook's conclusion in words.
Rules
    A failed condition makes a claim ``cannot_tell``, whatever the value. A count
    below its target is ``cannot_tell`` for claims whose ``shortfall`` says so:
    OpenStreetMap not holding a library does not show that there is none. A kind
    whose data count is below ``min_completeness`` of its official count cannot
    settle a claim that names it. A value that is only an estimate still gets a
    verdict, marked "low" sureness and said so.
Tests
    ``tests/test_verdicts.py``: each state on generated measures (incl. a kind far
    below its official count), target overrides from the region file, the
    rendering in both languages; the notebooks' verdicts on the sample county in
    the notebook and browser tests.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

import pandas as pd

from . import _yaml
from ._errors import ValidationError
from .labels import label

if TYPE_CHECKING:
    import folium

    from .pipeline import Study

__all__ = [
    "STATES",
    "Claim",
    "Measure",
    "Verdict",
    "add_panel",
    "claims",
    "conclusion",
    "facts",
    "from_records",
    "judge",
    "judge_all",
    "official_counts",
    "panel_html",
    "png_lines",
    "table",
    "target_for",
    "to_records",
]

#: Verdict states, in the order people read them.
STATES: Final[tuple[str, ...]] = ("holds", "not_met", "cannot_tell")

#: Badge colours per state (green / red / grey-amber): the same on maps, index page and PNG.
STATE_COLOURS: Final[dict[str, str]] = {
    "holds": "#1a7f37",
    "not_met": "#c62828",
    "cannot_tell": "#8a6d00",
}

_CONDITIONS: Final[tuple[str, ...]] = (
    "facilities",
    "villages",
    "population",
    "seats",
    "county_seat",
    "official",
    "per_village",
)


@dataclass(frozen=True)
class Claim:
    """One claim of ``rules/claims.yml``."""

    key: str
    notebook: str
    statement: dict[str, str]
    measure: dict[str, str]
    unit: str
    target: float | str
    target_source: str
    comparison: str
    needs: tuple[Any, ...] = ()
    shortfall: str = "not_met"
    target_official: str = ""
    limit_min: float | None = None
    worst: int = 5


@dataclass
class Measure:
    """What a policy measured for one claim.

    Attributes
    ----------
    claim
        Key in ``rules/claims.yml``.
    value
        The measured share (0–1) or count; ``None`` when nothing could be measured.
    facilities
        Facilities of the measured kind in the data (``None``: the claim counts none).
    evidence
        Lines of evidence, each ``(zh, en)``: counts behind the value.
    worst
        The worst places by name, each ``(name, zh detail, en detail)``.
    fields
        Values for the measure's text (``limit``, ``mode``, ``road_class``…).
    estimate
        Why the value is only an estimate (``(zh, en)``), or empty.
    facts
        Facts overriding those of the study (e.g. ``population=False``).
    alternatives
        The value under other stated rules of the measure, each ``(zh, en, value)``
        (e.g. the township road links under the strict rule): when one of them falls
        on the other side of the target, the data do not settle the claim.
    """

    claim: str
    value: float | None
    facilities: int | None = None
    evidence: list[tuple[str, str]] = field(default_factory=list)
    worst: list[tuple[str, str, str]] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    estimate: tuple[str, str] | tuple[()] = ()
    facts: dict[str, Any] = field(default_factory=dict)
    alternatives: list[tuple[str, str, float]] = field(default_factory=list)


@dataclass
class Verdict:
    """The verdict on one claim for one unit (see the module's rules)."""

    claim: str
    state: str
    value: float | None
    target: float | None
    unit: str
    place: dict[str, str]
    statement: dict[str, str]
    measure: dict[str, str]
    target_source: str
    reasons: list[dict[str, str]] = field(default_factory=list)
    evidence: list[dict[str, str]] = field(default_factory=list)
    worst: list[dict[str, str]] = field(default_factory=list)
    completeness: list[dict[str, Any]] = field(default_factory=list)
    sure: str = "high"

    def text(self, what: str, lang: str) -> str:
        """``statement``, ``measure`` or ``place`` in ``lang``."""
        return str(getattr(self, what).get(lang, ""))


# --------------------------------------------------------------------------- claims


def _bilingual(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw.get("zh") or not raw.get("en"):
        msg = f"{where} needs zh and en texts"
        raise ValidationError(msg)
    return {"zh": str(raw["zh"]), "en": str(raw["en"])}


def _claim(key: str, raw: Mapping[str, Any]) -> Claim:
    where = f"rules/claims.yml: claim {key}"
    for name in ("notebook", "statement", "measure", "unit", "target", "comparison"):
        if name not in raw:
            msg = f"{where} lacks {name!r}"
            raise ValidationError(msg)
    if raw["unit"] not in ("share", "count"):
        msg = f"{where}: unit must be share or count, got {raw['unit']!r}"
        raise ValidationError(msg)
    if raw["comparison"] != ">=":
        msg = f"{where}: comparison must be '>=', got {raw['comparison']!r}"
        raise ValidationError(msg)
    needs = tuple(raw.get("needs") or ())
    for need in needs:
        name = next(iter(need)) if isinstance(need, dict) else need
        if name not in _CONDITIONS:
            msg = f"{where}: unknown condition {name!r}; use {', '.join(_CONDITIONS)}"
            raise ValidationError(msg)
    return Claim(
        key=key,
        notebook=str(raw["notebook"]),
        statement=_bilingual(raw["statement"], f"{where} statement"),
        measure=_bilingual(raw["measure"], f"{where} measure"),
        unit=str(raw["unit"]),
        target=raw["target"] if isinstance(raw["target"], str) else float(raw["target"]),
        target_source=str(raw.get("target_source", "assumed")),
        comparison=str(raw["comparison"]),
        needs=needs,
        shortfall=str(raw.get("shortfall", "not_met")),
        target_official=str(raw.get("target_official", "")),
        limit_min=float(raw["limit_min"]) if raw.get("limit_min") is not None else None,
        worst=int(raw.get("worst", 5)),
    )


@functools.cache
def _rules() -> dict[str, Any]:
    text = resources.files("accessibility.rules").joinpath("claims.yml").read_text("utf-8")
    raw = _yaml.load(text) or {}
    return {
        "min_completeness": float(raw.get("min_completeness", 0.5)),
        "official": {
            k: _bilingual(v, f"rules/claims.yml: official {k}") for k, v in raw["official"].items()
        },
        "claims": {k: _claim(k, v) for k, v in raw["claims"].items()},
    }


def claims(notebook: str | None = None) -> list[Claim]:
    """The claims of ``rules/claims.yml``, or those one notebook measures, in file order."""
    found = [c for c in _rules()["claims"].values() if notebook is None or c.notebook == notebook]
    if notebook is not None and not found:
        known = sorted({c.notebook for c in _rules()["claims"].values()})
        msg = f"no claim is measured by notebook {notebook!r}; notebooks with claims: {', '.join(known)}"
        raise ValidationError(msg)
    return found


def claim(key: str) -> Claim:
    """One claim by key."""
    table = _rules()["claims"]
    if key not in table:
        msg = f"unknown claim {key!r}; claims: {', '.join(table)}"
        raise ValidationError(msg)
    return table[key]


# --------------------------------------------------------------------------- facts


def official_counts(region: Any, unit: Any = None) -> dict[str, float]:
    """Official counts for a run: the unit's (``official:`` of the unit) when it runs
    alone, else the region's. The region's counts are not applied to one unit."""
    own = dict(getattr(unit, "official", None) or {}) if unit is not None else {}
    if unit is not None:
        return own
    return dict(getattr(region, "official", None) or {})


def _inside(study: Study, frame: Any) -> Any:
    """Rows of ``frame`` (WGS-84 points) inside the study's boundary."""
    if frame is None or len(frame) == 0:
        return frame
    area = study.boundary.to_crs(4326).union_all()
    return frame.loc[frame.geometry.within(area).to_numpy()]


def _tier_count(facilities: Any, kind: str, tier: str) -> int:
    if facilities is None or len(facilities) == 0:
        return 0
    tiers = facilities["tiers"].fillna("").astype(str).str.split(";")
    return int(((facilities["kind"] == kind) & tiers.map(lambda t: tier in t)).sum())


def facts(study: Study) -> dict[str, Any]:
    """What the data hold inside the study's unit, for the claims' conditions.

    Returns
    -------
    dict
        ``villages`` (the origins are administrative villages), ``origins`` (their
        number), ``origins_kind``, ``seats`` (township seats), ``county_seat``
        (bool), and ``counts``: the data's count per official key
        (``county_libraries``, ``township_cultural_stations``,
        ``village_cultural_centres``, ``townships``).
    """
    kind = str(study.meta.get("origins_kind", "villages"))
    places = _inside(study, study.places.to_crs(4326)) if len(study.places) else study.places
    levels = places["level"].value_counts() if len(places) else pd.Series(dtype=int)
    fac = (
        _inside(study, study.facilities.to_crs(4326)) if len(study.facilities) else study.facilities
    )
    seats = int(levels.get("township_seat", 0))
    origin_levels = set(study.origins["level"].astype(str)) if "level" in study.origins else set()
    return {
        "villages": kind == "villages"
        and origin_levels <= {"admin_village"}
        and len(study.origins) > 0,
        "origins": len(study.origins),
        "origins_kind": kind,
        "seats": seats,
        "county_seat": int(levels.get("county_seat", 0)) > 0,
        "counts": {
            "county_libraries": _tier_count(fac, "reading", "library"),
            "township_cultural_stations": _tier_count(fac, "reading", "cultural_station"),
            "village_cultural_centres": _tier_count(fac, "reading", "village_centre"),
            "townships": seats,
        },
    }


# --------------------------------------------------------------------------- judging


def _why(key: str, **fields: Any) -> dict[str, str]:
    return {g: label(f"verdict_reason.{key}", lang=g).format(**fields) for g in ("zh", "en")}


def _completeness(
    claim: Claim, data: Mapping[str, Any], official: Mapping[str, float]
) -> list[dict[str, Any]]:
    keys = [n["official"] for n in claim.needs if isinstance(n, dict) and "official" in n]
    if claim.target_official:
        keys.append(claim.target_official)
    out = []
    for key in dict.fromkeys(keys):
        held = int(data["counts"].get(key, 0))
        given = official.get(key)
        names = _rules()["official"][key]
        out.append(
            {
                "key": key,
                "zh": names["zh"],
                "en": names["en"],
                "data": held,
                "official": float(given) if given is not None else None,
                "share": held / float(given) if given else None,
            }
        )
    return out


def _failed(
    claim: Claim, measure: Measure, data: Mapping[str, Any], official: Mapping[str, float]
) -> list[dict[str, str]]:
    """Reasons (zh/en) the data do not suffice for ``claim``; empty when they do."""
    reasons = []
    minimum = _rules()["min_completeness"]
    for need in claim.needs:
        name, arg = next(iter(need.items())) if isinstance(need, dict) else (need, None)
        if name == "facilities" and not measure.facilities:
            reasons.append(_why("no_facilities"))
        elif name == "villages" and not data.get("villages"):
            reasons.append(_why("not_villages", kind=data.get("origins_kind", "")))
        elif name == "population" and data.get("population") is False:
            reasons.append(_why("no_population"))
        elif name == "seats" and not data.get("seats"):
            reasons.append(_why("no_seats"))
        elif name == "county_seat" and not data.get("county_seat"):
            reasons.append(_why("no_county_seat"))
        elif name == "official" and official.get(arg):
            held = int(data["counts"].get(arg, 0))
            share = held / float(official[arg])
            if share < minimum:
                names = _rules()["official"][arg]
                reasons.append(
                    {
                        g: label("verdict_reason.incomplete", lang=g).format(
                            what=names[g],
                            data=held,
                            official=f"{float(official[arg]):,.0f}",
                            share=f"{share:.0%}",
                            minimum=f"{minimum:.0%}",
                        )
                        for g in ("zh", "en")
                    }
                )
        elif name == "per_village" and data.get("origins") and measure.facilities is not None:
            density = measure.facilities / max(int(data["origins"]), 1)
            if density < float(arg):
                reasons.append(
                    _why(
                        "sparse",
                        n=measure.facilities,
                        villages=data["origins"],
                        per=f"{float(arg):g}",
                    )
                )
    if measure.value is None and not reasons:
        reasons.append(_why("not_measured"))
    return reasons


def _target(
    claim: Claim,
    data: Mapping[str, Any],
    official: Mapping[str, float],
    overrides: Mapping[str, Any],
) -> float | None:
    if claim.key in overrides and overrides[claim.key].get("target") is not None:
        return float(overrides[claim.key]["target"])
    if claim.target_official and official.get(claim.target_official):
        return float(official[claim.target_official])
    if claim.target == "seats":
        return float(data.get("seats") or 0) or None
    return float(claim.target)


def judge(
    measure: Measure,
    *,
    data: Mapping[str, Any],
    official: Mapping[str, float] | None = None,
    overrides: Mapping[str, Any] | None = None,
    place: Mapping[str, str] | None = None,
) -> Verdict:
    """The verdict on ``measure``'s claim, given the data's :func:`facts` and the official counts.

    Parameters
    ----------
    measure
        What the policy measured.
    data
        :func:`facts` of the study, updated with ``measure.facts``.
    official
        Official counts (:func:`official_counts`); none: no completeness check.
    overrides
        Per claim key, a mapping with ``target`` (the region file's ``claims:``).
    place
        The unit's name, ``{"zh": ..., "en": ...}``.
    """
    c = claim(measure.claim)
    official = dict(official or {})
    data = {**data, **measure.facts}
    target = _target(c, data, official, overrides or {})
    reasons = _failed(c, measure, data, official)
    value = (
        None
        if measure.value is None or (isinstance(measure.value, float) and math.isnan(measure.value))
        else float(measure.value)
    )
    if reasons or value is None or target is None:
        state = "cannot_tell"
        if target is None and not reasons:
            reasons.append(_why("no_target"))
    elif value >= target - 1e-9:
        state = "holds"
    elif c.shortfall == "cannot_tell":
        state = "cannot_tell"
        reasons.append(_why("shortfall", n=f"{value:,.0f}", target=f"{target:,.0f}"))
    else:
        state = "not_met"
    if state in ("holds", "not_met") and target is not None and value is not None:
        split = [
            (zh, en, alt)
            for zh, en, alt in measure.alternatives
            if (alt >= target - 1e-9) != (state == "holds")
        ]
        if split:
            state = "cannot_tell"
            for zh, en, alt in split:
                words = {
                    "value": number_text(value, c.unit),
                    "alt": number_text(alt, c.unit),
                    "target": number_text(target, c.unit),
                }
                reasons.append(
                    {
                        g: label("verdict_reason.rule_sensitive", lang=g).format(rule=r, **words)
                        for g, r in (("zh", zh), ("en", en))
                    }
                )
    sure = "high"
    if measure.estimate:
        sure = "low"
    elif state != "cannot_tell" and c.unit == "count":
        sure = "medium"  # counts in open data are lower bounds
    verdict = Verdict(
        claim=c.key,
        state=state,
        value=value,
        target=target,
        unit=c.unit,
        place=dict(place or {"zh": "", "en": ""}),
        statement=dict(c.statement),
        measure={g: c.measure[g].format(**_fields(measure.fields, g)) for g in ("zh", "en")},
        target_source=c.target_source,
        reasons=reasons,
        evidence=[{"zh": zh, "en": en} for zh, en in measure.evidence],
        worst=[{"name": n, "zh": zh, "en": en} for n, zh, en in measure.worst[: c.worst]],
        completeness=_completeness(c, data, official),
        sure=sure,
    )
    if measure.estimate:
        zh, en = measure.estimate
        # the reason may already say it is an estimate ("估算：居住用地推算"): said once
        zh = zh if zh.startswith("估算") else f"估算：{zh}"
        en = en[:1].upper() + en[1:] if en.lower().startswith("estimate") else f"Estimate: {en}"
        verdict.evidence.insert(0, {"zh": zh, "en": en})
    return verdict


def _fields(fields: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """Measure text fields in ``lang``: a ``(zh, en)`` pair gives its ``lang`` member."""
    out: dict[str, Any] = {"limit": "", "mode": "", "road_class": ""}
    for k, v in fields.items():
        out[k] = v[0 if lang == "zh" else 1] if isinstance(v, tuple) else v
    return out


def target_for(study: Study, key: str) -> float | None:
    """The target of claim ``key`` for the study's unit (the region file's, the official
    count, or ``rules/claims.yml``'s), as :func:`judge_all` will use it."""
    return _target(
        claim(key),
        facts(study),
        official_counts(study.region, study.unit),
        dict(getattr(study.region, "claims", None) or {}),
    )


def judge_all(study: Study, measures: Iterable[Measure]) -> list[Verdict]:
    """Verdicts on ``measures`` for the study's unit (its facts, official counts and
    the region file's target overrides)."""
    data = facts(study)
    official = official_counts(study.region, study.unit)
    overrides = dict(getattr(study.region, "claims", None) or {})
    place = {g: study.label(g) for g in ("zh", "en")}
    return [
        judge(m, data=data, official=official, overrides=overrides, place=place) for m in measures
    ]


# --------------------------------------------------------------------------- words


def number_text(value: float | None, unit: str) -> str:
    """A value as people read it: a share as ``82.0%``, a count as ``1,234``; ``—`` when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "share":
        return f"{value:.1%}"
    return f"{value:,.0f}"


def state_label(state: str, lang: str = "zh") -> str:
    """成立 / 不成立 / 数据不足 (or the English)."""
    return label(f"verdict_state.{state}", lang=lang)


def target_text(verdict: Verdict, lang: str = "zh") -> str:
    """``≥ 95.0%`` (or ``—`` without a target)."""
    if verdict.target is None:
        return "—"
    return f"≥ {number_text(verdict.target, verdict.unit)}"


def _completeness_text(verdict: Verdict, lang: str) -> str:
    parts = []
    for c in verdict.completeness:
        if c["official"] is None:
            continue
        parts.append(f"{c[lang]} {c['data']:,}/{c['official']:,.0f} ({c['share']:.0%})")
    return "; ".join(parts)


def _worst_text(verdict: Verdict, lang: str) -> str:
    sep = "；" if lang == "zh" else "; "
    return sep.join(f"{w['name']} {w[lang]}".strip() for w in verdict.worst)


def _join(items: Sequence[Mapping[str, str]], lang: str) -> str:
    return ("；" if lang == "zh" else "; ").join(i[lang] for i in items)


def table(verdicts: Sequence[Verdict], *, lang: str = "zh") -> pd.DataFrame:
    """One row per verdict, every cell in ``lang`` (headers included): the first sheet
    of every workbook."""
    cols = [
        "place",
        "claim",
        "verdict",
        "value",
        "target",
        "target_source",
        "measure",
        "evidence",
        "worst",
        "reason",
        "completeness",
        "sure",
    ]
    rows = [
        {
            "place": v.text("place", lang),
            "claim": v.text("statement", lang),
            "verdict": state_label(v.state, lang),
            "value": number_text(v.value, v.unit),
            "target": target_text(v, lang),
            "target_source": label(f"verdict_target_source.{v.target_source}", lang=lang),
            "measure": v.text("measure", lang),
            "evidence": _join(v.evidence, lang),
            "worst": _worst_text(v, lang),
            "reason": _join(v.reasons, lang),
            "completeness": _completeness_text(v, lang),
            "sure": label(f"verdict_sure.{v.sure}", lang=lang) if v.state != "cannot_tell" else "",
        }
        for v in verdicts
    ]
    frame = pd.DataFrame(rows, columns=cols)
    return frame.rename(columns={c: label(f"verdict_col.{c}", lang=lang) for c in cols})


def to_records(verdicts: Sequence[Verdict]) -> list[dict[str, Any]]:
    """Verdicts as JSON-ready mappings (``<nb>_figures.json``, key ``verdicts``)."""
    from dataclasses import asdict

    return [asdict(v) for v in verdicts]


def from_records(records: Any, *, where: str = "verdicts") -> list[Verdict]:
    """Verdicts back from :func:`to_records` (checked: a state must be known)."""
    if records is None:
        return []
    if not isinstance(records, list):
        msg = f"{where} must be a list of verdicts, got {type(records).__name__}"
        raise ValidationError(msg)
    out = []
    for i, r in enumerate(records):
        if not isinstance(r, dict) or r.get("state") not in STATES or not r.get("claim"):
            msg = f"{where}[{i}] must have a claim and a state among {', '.join(STATES)}"
            raise ValidationError(msg)
        out.append(Verdict(**{k: r[k] for k in Verdict.__dataclass_fields__ if k in r}))
    return out


def badge_html(state: str, lang: str = "zh") -> str:
    """A coloured badge with the state's word."""
    return (
        f'<span class="acc-badge acc-{state}" style="background:{STATE_COLOURS[state]};color:#fff;'
        f'border-radius:3px;padding:0 5px;font-weight:600;white-space:nowrap">'
        f"{html.escape(state_label(state, lang))}</span>"
    )


def _line_html(v: Verdict, lang: str) -> str:
    esc = html.escape
    measured = label("verdict_ui.measured", lang=lang)
    target = label("verdict_ui.target", lang=lang)
    colon = "：" if lang == "zh" else ": "
    detail = (
        f"{measured} {esc(number_text(v.value, v.unit))} · {target} {esc(target_text(v, lang))}"
    )
    if v.target_source == "assumed":
        detail += esc(label("verdict_ui.assumed_note", lang=lang))
    parts = [
        f'<div class="acc-verdict" data-claim="{esc(v.claim)}" data-state="{esc(v.state)}">',
        f"{badge_html(v.state, lang)} <b>{esc(v.text('statement', lang))}</b>",
        f'<div class="acc-vd">{esc(v.text("measure", lang))}{colon}{detail}</div>',
    ]
    if v.reasons:
        parts.append(f'<div class="acc-vr">{esc(_join(v.reasons, lang))}</div>')
    if v.worst and v.state != "holds":
        parts.append(
            f'<div class="acc-vd">{esc(label("verdict_ui.worst", lang=lang))}{colon}{esc(_worst_text(v, lang))}</div>'
        )
    done = _completeness_text(v, lang)
    if done:
        parts.append(
            f'<div class="acc-vd">{esc(label("verdict_ui.completeness", lang=lang))}{colon}{esc(done)}</div>'
        )
    if v.evidence and v.evidence[0][lang].startswith(("估算", "Estimate")):
        parts.append(f'<div class="acc-vr">{esc(v.evidence[0][lang])}</div>')
    parts.append("</div>")
    return "".join(parts)


_PANEL_STYLE = (
    "<style>.acc-verdicts{background:rgba(255,255,255,.95);border-radius:4px;padding:6px 10px;"
    "box-shadow:0 1px 4px rgba(0,0,0,.3);font-size:12px;line-height:17px;max-width:380px;"
    "font-family:'Helvetica Neue',Arial,'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;"
    "max-height:45vh;overflow:auto}.acc-verdicts summary{font-weight:600;cursor:pointer}"
    ".acc-verdict{margin-top:5px}.acc-vd{color:#333;font-size:11px}.acc-vr{color:#8a5a00;font-size:11px}"
    "</style>"
)


def panel_html(verdicts: Sequence[Verdict], *, lang: str = "zh") -> str:
    """The verdict panel's HTML: a title, then per claim a badge, the claim, value and
    target, the reason when the data do not suffice, the worst places and completeness."""
    title = html.escape(label("verdict_ui.panel_title", lang=lang))
    if verdicts:
        body = "".join(_line_html(v, lang) for v in verdicts)
    else:
        body = f'<div class="acc-vd">{html.escape(label("verdict_ui.none", lang=lang))}</div>'
    return f'<details class="acc-verdicts" open><summary>{title}</summary>{body}</details>'


def add_panel(fmap: folium.Map, verdicts: Sequence[Verdict], *, lang: str = "zh") -> folium.Map:
    """Put the verdict panel at the top left of ``fmap`` (below the zoom buttons)."""
    import json

    from branca.element import Element, MacroElement
    from jinja2 import Template

    class _Panel(MacroElement):
        _template = Template(
            """
            {% macro script(this, kwargs) %}
                (function (map) {
                    var panel = L.control({position: "topleft"});
                    panel.onAdd = function () {
                        var div = L.DomUtil.create("div", "acc-verdict-box");
                        div.innerHTML = {{ this.content }};
                        L.DomEvent.disableClickPropagation(div);
                        L.DomEvent.disableScrollPropagation(div);
                        return div;
                    };
                    panel.addTo(map);
                })({{ this._parent.get_name() }});
            {% endmacro %}
            """
        )

        def __init__(self, content: str) -> None:
            super().__init__()
            self._name = "VerdictPanel"
            self.content = json.dumps(content, ensure_ascii=False).replace("</", "<\\/")

    fmap.get_root().header.add_child(Element(_PANEL_STYLE), name="acc_verdict_style")
    fmap.add_child(_Panel(panel_html(verdicts, lang=lang)))
    return fmap


def png_lines(verdicts: Sequence[Verdict], *, lang: str = "zh") -> str:
    """One line per verdict for a printed map: the claim, the state, value and target
    (or the reason when the data do not suffice)."""
    lines = []
    for v in verdicts:
        name = label(f"verdict_short.{v.claim}", lang=lang)
        state = state_label(v.state, lang)
        if v.state == "cannot_tell":
            lines.append(
                label("verdict_ui.png_line_cannot", lang=lang).format(
                    claim=name, state=state, reason=_join(v.reasons[:1], lang)
                )
            )
        else:
            lines.append(
                label("verdict_ui.png_line", lang=lang).format(
                    claim=name,
                    state=state,
                    value=number_text(v.value, v.unit),
                    target=target_text(v, lang),
                )
            )
    return "\n".join(lines)


def conclusion(verdicts: Sequence[Verdict], *, lang: str = "zh") -> str:
    """The notebook's conclusion in Markdown: what holds, what does not and where, what
    the data cannot settle and why, and how sure each verdict is. ``<``, ``>`` and ``&``
    are written as entities, so a name holding markup is shown as text."""
    place = verdicts[0].text("place", lang) if verdicts else ""
    out = [f"### {label('verdict_ui.conclusion_title', lang=lang)}{' · ' + place if place else ''}"]
    if not verdicts:
        out.append(label("verdict_ui.none", lang=lang))
    for state in STATES:
        chosen = [v for v in verdicts if v.state == state]
        if not chosen:
            continue
        block = [f"**{label(f'verdict_ui.conclusion_{state}', lang=lang)}**", ""]
        for v in chosen:
            line = (
                f"- {v.text('statement', lang)}: {v.text('measure', lang)} "
                f"{number_text(v.value, v.unit)} ({label('verdict_ui.target', lang=lang)} {target_text(v, lang)})"
            )
            if state == "cannot_tell":
                line = f"- {v.text('statement', lang)}: {_join(v.reasons, lang)}"
            else:
                line += f"; {label(f'verdict_sure.{v.sure}', lang=lang)}"
            if v.worst and state == "not_met":
                line += f"; {label('verdict_ui.worst', lang=lang)}: {_worst_text(v, lang)}"
            done = _completeness_text(v, lang)
            if done:
                line += f"; {label('verdict_ui.completeness', lang=lang)}: {done}"
            block.append(line)
        out.append("\n".join(block))
    # names come from OSM and registries: markup in one is shown, never run
    return html.escape("\n\n".join(out), quote=False)
