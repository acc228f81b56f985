"""Exceptions raised by the package.

Each subclasses a built-in so that callers can catch either. Messages name the
offending input (file, column, row, value) and say how to fix it.
"""

from __future__ import annotations


class AccessibilityError(Exception):
    """Base class of every error raised on purpose by this package."""


class ValidationError(AccessibilityError, ValueError):
    """An input (parameter, table, file) is not valid; the message says how to fix it."""


class UnknownRegionError(AccessibilityError, LookupError):
    """No region configuration with the requested name exists."""


class DataSourceError(AccessibilityError, OSError):
    """Raw data is missing or unreadable (no file, no cache, no network)."""


class ServerUnreachableError(DataSourceError):
    """A download server gave no answer at all (no connection, or no reply before the
    deadline); the message says how to work from local data instead."""


class LabError(AccessibilityError, RuntimeError):
    """JupyterLab cannot start as asked (a port in use, an address not of this machine,
    a kernel Jupyter would take from another environment); the message says what to change."""
