"""HTTP: POST one query to the Overpass endpoint, with retries, slot waits and progress lines.

In: a query, a destination file, the endpoint, the retry settings, a deadline and the
region's :class:`~.budget.RegionBudget`. Out: a complete OSM XML answer written
atomically with its JSON sidecar, or :class:`ServerUnreachableError` /
:class:`DataSourceError` with a message saying how to work offline.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from osmnx import settings as ox_settings

from ..._errors import DataSourceError, ServerUnreachableError, ValidationError
from ...settings import OVERPASS_URL_ENV, settings
from .budget import _LOCAL_EXTRACT, RegionBudget, _s, _total_left

log = logging.getLogger(__package__)

#: Longest wait, in seconds, for a ``Retry-After`` header, a backoff step or a free slot.
MAX_WAIT_S = 300.0
#: HTTP statuses that are retried; any other status but 200 fails at once.
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
#: Seconds allowed to open a connection (the read timeout is the query timeout plus a margin).
CONNECT_TIMEOUT_S = 30.0
#: Seconds between two progress lines while a query waits for its answer.
PROGRESS_EVERY_S = 15.0

_READ_MARGIN_S = 30.0
_CHUNK = 1 << 16
_PROBE = 1 << 16
_OSM_ROOT = re.compile(rb"^\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<osm[\s>/]", re.DOTALL)
_REMARK = re.compile(rb"<remark>(.*?)</remark>", re.DOTALL)
_OSM_BASE = re.compile(rb'<meta[^>]*\bosm_base="([^"]*)"')
_SLOTS_FREE = re.compile(r"^\d+ slots? available now", re.MULTILINE)
_SLOT_AFTER = re.compile(r"Slot available after: \S+, in (-?\d+) seconds?")

#: Indirection so that tests can record waits instead of sleeping.
_sleep = time.sleep


# --------------------------------------------------------------------------- requests


def _endpoint(url: str | None) -> str:
    """The interpreter URL: ``url``, else ``settings.overpass_url``, else the
    ``ACCESSIBILITY_OVERPASS_URL`` environment variable, else osmnx's setting."""
    if url is None:
        url = settings.overpass_url or os.environ.get(OVERPASS_URL_ENV) or None
    base = str(ox_settings.overpass_url if url is None else url).strip().rstrip("/")
    if not base:
        msg = (
            "no Overpass URL: set osmnx.settings.overpass_url (e.g. 'https://overpass-api.de/api')"
        )
        raise ValidationError(msg)
    return base if base.endswith("/interpreter") else base + "/interpreter"


def _no_data(reason: str, target: Path, endpoint: str) -> str:
    return (
        f"Overpass download failed: {reason}. No cached copy exists at {target}. "
        f"To work without network, read a local OSM extract instead: {_LOCAL_EXTRACT} "
        "To retry online, check the network and the "
        f"Overpass endpoint {endpoint} (the environment variable {OVERPASS_URL_ENV} or "
        "osmnx.settings.overpass_url names another instance, e.g. "
        "'https://overpass.kumi.systems/api'; --overpass-deadline SECONDS waits longer), "
        "then run again; whatever was already downloaded is kept."
    )


class _Retry(Exception):
    """A failed attempt worth repeating.

    ``answered``: the server answered (an HTTP status, part of a body), so it is
    reachable though it failed this time.
    """

    def __init__(
        self, message: str, *, retry_after: float | None = None, answered: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.answered = answered


class _OutOfTime(Exception):
    """The next step (a retry, a wait for a slot) would end after the deadline.

    ``answered``: the server answered on the way (its status page named the wait).
    """

    def __init__(self, message: str, *, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


class _Progress:
    """Log a line every :data:`PROGRESS_EVERY_S` seconds while a query waits or downloads.

    ``receiving`` is set once the answer has begun to arrive.
    """

    def __init__(
        self, label: str, endpoint: str, started: float, end: float, budget: RegionBudget
    ) -> None:
        self.label, self.endpoint, self.started, self.end = label, endpoint, started, end
        self.budget = budget
        self.receiving = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="overpass-progress")

    def _run(self) -> None:
        while not self._stop.wait(PROGRESS_EVERY_S):
            now = time.monotonic()
            if self.receiving:
                log.info(
                    "Overpass: receiving %s from %s: %.0f s so far",
                    self.label,
                    self.endpoint,
                    now - self.started,
                )
                continue
            log.info(
                "Overpass: still waiting for %s from %s: %.0f s so far, gives up in %s s (%s)",
                self.label,
                self.endpoint,
                now - self.started,
                _s(max(0.0, self.end - now)),
                _total_left(self.budget, now - self.started),
            )

    def __enter__(self) -> _Progress:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class _Fetcher:
    """POST queries to one endpoint with retries; write complete answers atomically.

    ``target`` is the file the caller asked for (named in error messages); a tile
    is written to its own path.
    """

    endpoint: str
    target: Path
    retries: int
    backoff_s: float
    timeout_s: int
    deadline_s: float
    budget: RegionBudget
    _session: requests.Session | None = None

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
            self._session.headers.update(
                {
                    "User-Agent": ox_settings.http_user_agent,
                    "Referer": ox_settings.http_referer,
                    "Accept-Language": ox_settings.http_accept_language,
                }
            )
        return self._session

    def _request_kwargs(self, *, timeout: tuple[float, float]) -> dict[str, Any]:
        kwargs = dict(ox_settings.requests_kwargs or {})
        headers = dict(self.session.headers)
        headers.update(kwargs.pop("headers", None) or {})
        kwargs.update(headers=headers, timeout=timeout)
        return kwargs

    def __call__(self, query: str, dest: Path, *, label: str) -> None:
        """Fetch one query into ``dest``, within :attr:`deadline_s` seconds and what is
        left of the region's total (:attr:`budget`).

        Raises :class:`ServerUnreachableError` when no attempt got an answer from the
        server, :class:`DataSourceError` when it answered but failed every time; when
        the region's total ran out, either (unreachable only if no query of the region
        got an answer) with the message of :meth:`RegionBudget.used_up`.
        """
        budget = self.budget
        total_left = budget.left_s
        if total_left <= 0:  # a download that overran the total came before
            raise DataSourceError(budget.used_up(label, cache_dir=self.target.parent))
        seconds = min(self.deadline_s, total_left)
        by_total = total_left < self.deadline_s
        attempts = self.retries + 1
        started = time.monotonic()
        end = started + seconds
        last_error = ""
        retry_after: float | None = None
        answered = False
        out_of_time = False
        made = 0
        log.info(
            "Overpass: asking %s for %s (up to %d attempts; gives up after %s s; %s)",
            self.endpoint,
            label,
            attempts,
            _s(seconds),
            _total_left(budget, 0.0),
        )
        try:
            for attempt in range(1, attempts + 1):
                if attempt > 1:
                    wait = _retry_wait(attempt - 1, self.backoff_s, retry_after)
                    left = end - time.monotonic()
                    if wait >= left:
                        raise _OutOfTime(
                            f"a retry in {wait:.1f} s would come after the deadline "
                            f"({max(left, 0.0):.0f} s left)"
                        )
                    log.warning(
                        "Overpass: %s; retrying in %.1f s (attempt %d of %d, gives up in %.0f s)",
                        last_error,
                        wait,
                        attempt,
                        attempts,
                        left,
                    )
                    _sleep(wait)
                if end - time.monotonic() <= 0:
                    raise _OutOfTime("the deadline passed")
                made += 1
                try:
                    with _Progress(label, self.endpoint, started, end, budget) as progress:
                        self._wait_for_slot(end)
                        log.info(
                            "Overpass: POST %s (%s, attempt %d/%d, query %s bytes)",
                            self.endpoint,
                            label,
                            attempt,
                            attempts,
                            f"{len(query.encode()):,}",
                        )
                        self._attempt(query, dest, end, progress)
                except _Retry as exc:
                    last_error, retry_after = str(exc), exc.retry_after
                    answered = answered or exc.answered
                    continue
                budget.answered += 1
                budget.reached = True
                return
        except _OutOfTime as exc:
            last_error = f"{last_error}; {exc}" if last_error else str(exc)
            answered = answered or exc.answered
            out_of_time = True
        finally:
            budget.spent_s += time.monotonic() - started
        budget.reached = budget.reached or answered
        if by_total and (out_of_time or budget.left_s <= 0):
            log.error("%s", budget.summary(label))
            reason = budget.used_up(label, cache_dir=self.target.parent)
            if not budget.reached:
                raise ServerUnreachableError(reason)
            raise DataSourceError(reason)
        seconds = time.monotonic() - started
        tried = f"{made} attempt(s) in {seconds:.0f} s (deadline {self.deadline_s:g} s)"
        if not answered:
            reason = f"no answer from {self.endpoint}: {tried}; last error: {last_error}"
            log.error("Overpass: %s", reason)
            raise ServerUnreachableError(_no_data(reason, self.target, self.endpoint))
        reason = f"{tried} at {self.endpoint} failed; last error: {last_error}"
        raise DataSourceError(_no_data(reason, self.target, self.endpoint))

    def _attempt(self, query: str, dest: Path, end: float, progress: _Progress) -> None:
        started = time.monotonic()
        left = max(end - started, 0.001)  # connecting and each read: at most what is left
        timeout = (
            min(CONNECT_TIMEOUT_S, float(self.timeout_s), left),
            min(self.timeout_s + _READ_MARGIN_S, left),
        )
        tmp = _tmp_name(dest)
        try:
            try:
                response = self.session.post(
                    self.endpoint,
                    data={"data": query},
                    stream=True,
                    **self._request_kwargs(timeout=timeout),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise _Retry(f"{type(exc).__name__}: {exc}") from exc
            except requests.RequestException as exc:
                reason = f"cannot send the request to {self.endpoint}: {exc}"
                raise DataSourceError(_no_data(reason, self.target, self.endpoint)) from exc
            with response:
                progress.receiving = True
                status = response.status_code
                if status in RETRY_STATUS:
                    raise _Retry(
                        f"HTTP {status} {response.reason}",
                        retry_after=_parse_retry_after(response.headers.get("Retry-After")),
                        answered=True,
                    )
                if status != 200:
                    reason = (
                        f"{self.endpoint} answered HTTP {status} {response.reason}: "
                        f"{_excerpt(response)}"
                    )
                    raise DataSourceError(_no_data(reason, self.target, self.endpoint))
                digest = hashlib.sha256()
                size = 0
                try:
                    with open(tmp, "xb") as fh:
                        for chunk in response.iter_content(_CHUNK):
                            fh.write(chunk)
                            digest.update(chunk)
                            size += len(chunk)
                except requests.RequestException as exc:
                    raise _Retry(
                        f"connection lost during the download ({size:,} bytes saved): {exc}",
                        answered=True,
                    ) from exc
            seconds = time.monotonic() - started
            log.info(
                "Overpass: HTTP %d, %s bytes in %.1f s from %s",
                status,
                f"{size:,}",
                seconds,
                self.endpoint,
            )
            try:
                osm_base = _check_osm_xml(
                    tmp, size=size, endpoint=self.endpoint, target=self.target
                )
            except _Retry as exc:  # an answer came, incomplete or with an error remark
                exc.answered = True
                raise
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        _write_sidecar(
            dest,
            {
                "query": query,
                "url": self.endpoint,
                "timestamp": _now(),
                "bytes": size,
                "sha256": digest.hexdigest(),
                "osm_base": osm_base,
            },
        )
        log.info("Overpass: cached %s (%s bytes)", dest, f"{size:,}")

    def _wait_for_slot(self, end: float) -> None:
        """Ask ``<base>/status`` how long until a query slot is free, and wait that long.

        No answer from the status page counts as a failed attempt (the server is
        not reached); a wait that would end after the deadline stops the query.
        """
        if not ox_settings.overpass_rate_limit:
            return
        status_url = self.endpoint.rsplit("/", 1)[0] + "/status"
        left = max(end - time.monotonic(), 0.001)
        try:
            kwargs = self._request_kwargs(
                timeout=(min(CONNECT_TIMEOUT_S, left), min(CONNECT_TIMEOUT_S, left))
            )
            with self.session.get(status_url, **kwargs) as response:
                text = response.text if response.status_code == 200 else ""
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise _Retry(f"no answer from {status_url}: {type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            log.debug("Overpass: no status from %s (%s)", status_url, exc)
            return
        pause = _slot_pause(text)
        if pause > 0:
            pause = min(pause, MAX_WAIT_S)
            left = end - time.monotonic()
            if pause >= left:
                msg = f"the next free query slot at {status_url} is {pause:.0f} s away, after the deadline"
                raise _OutOfTime(msg, answered=True)
            log.info("Overpass: waiting %.0f s for a free slot at %s", pause, status_url)
            _sleep(pause)


# --------------------------------------------------------------------------- waits


def _retry_wait(retry: int, backoff_s: float, retry_after: float | None) -> float:
    """Seconds to wait before retry number ``retry`` (1, 2, …)."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_WAIT_S)
    return min(backoff_s * 2.0 ** (retry - 1), MAX_WAIT_S)


def _parse_retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _slot_pause(status_text: str) -> float:
    """Seconds until a slot is free, from the text of Overpass's ``/status`` page."""
    if _SLOTS_FREE.search(status_text):
        return 0.0
    waits = [int(s) for s in _SLOT_AFTER.findall(status_text)]
    return float(max(0, min(waits))) if waits else 0.0


# --------------------------------------------------------------------------- answers


def _excerpt(response: requests.Response, limit: int = 300) -> str:
    try:
        text = next(response.iter_content(4096, decode_unicode=True), "") or ""
    except requests.RequestException:
        return "(no body)"
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return (text[:limit] + "…") if len(text) > limit else (text or "(no body)")


def _check_osm_xml(path: Path, *, size: int, endpoint: str, target: Path) -> str | None:
    """Raise unless ``path`` holds one complete OSM XML answer; return its ``osm_base``."""
    if size == 0:
        raise _Retry("empty response")
    with open(path, "rb") as fh:
        head = fh.read(_PROBE)
        fh.seek(max(0, size - _PROBE))
        tail = fh.read()
    head = head.removeprefix(b"\xef\xbb\xbf")
    if not _OSM_ROOT.match(head):
        start = head[:120].decode("utf-8", "replace").strip()
        reason = (
            f"the answer from {endpoint} is not OSM XML (it starts with {start!r}); "
            "is osmnx.settings.overpass_url an Overpass API?"
        )
        raise DataSourceError(_no_data(reason, target, endpoint))
    for part in (head, tail):
        remark = _REMARK.search(part)
        if remark:
            text = remark.group(1).decode("utf-8", "replace").strip()
            raise _Retry(f"Overpass remark: {text}")
    if not tail.rstrip().endswith(b"</osm>"):
        raise _Retry(f"truncated response ({size:,} bytes, no closing </osm>)")
    base = _OSM_BASE.search(head)
    return base.group(1).decode() if base else None


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _write_sidecar(data_path: Path, meta: dict[str, Any]) -> None:
    path = data_path.with_suffix(".json")
    tmp = _tmp_name(path)
    try:
        with open(tmp, "x", encoding="utf-8") as fh:
            json.dump(meta, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
