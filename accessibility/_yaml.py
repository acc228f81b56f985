"""Reading the package's own YAML rule files (``rules/*.yml``).

Design: one function, :func:`load`, used wherever a rule file is parsed: YAML's safe
loader, with libyaml's compiled parser when PyYAML was built with it (the same
result, several times faster: the label tables alone took 0.35 s to parse in pure
Python on every run). Region files written by users keep ``yaml.safe_load`` and its
messages. Tests: every rule file is parsed by the test suite through its loader.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """Parse YAML ``text`` like :func:`yaml.safe_load`."""
    return yaml.load(text, Loader=_LOADER)


def merged(base: Any, over: Any) -> Any:
    """``over`` on top of ``base`` (rules and their overrides): mappings merged key by
    key, recursively; anything else replaced."""
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out = dict(base)
        for key, value in over.items():
            out[key] = merged(base[key], value) if key in base else value
        return out
    return over
