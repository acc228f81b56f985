"""Overpass downloads against a local stand-in server: query text, cache, retries, errors, tiles.

The stand-in (``http.server`` on 127.0.0.1, a free port) answers ``POST
/api/interpreter`` with replies scripted per test (by default the recorded response
``tests/data/overpass/response.osm``) and ``GET /api/status`` with a recorded status
page, and records every request. ``osmnx.settings.overpass_url`` points at it; any
other Overpass setting a test changes is restored afterwards. Waits go through
``overpass.fetch._sleep``, which the tests record instead of sleeping.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import shapely
from osmnx import settings as ox_settings
from shapely import affinity

from accessibility._errors import DataSourceError, ServerUnreachableError, ValidationError
from accessibility.sources import osm, overpass

from .silent_server import Silent

DATA = Path(__file__).parent / "data" / "overpass"
RESPONSE = (DATA / "response.osm").read_bytes()
RUNTIME_ERROR = (DATA / "runtime_error.osm").read_bytes()
STATUS = (DATA / "status.txt").read_text(encoding="utf-8")
STATUS_BUSY = (DATA / "status_busy.txt").read_text(encoding="utf-8")
BAD_REQUEST = (DATA / "bad_request.html").read_bytes()

#: A small area around the recorded response (a village west of Xuchang), lon/lat.
POLY = shapely.Polygon([(113.83, 34.02), (113.87, 34.02), (113.87, 34.045), (113.83, 34.045)])
#: About 74 km × 66 km (≈ 4,900 km²): above the tile threshold, cut into 2 × 2 tiles.
LARGE = shapely.box(113.5, 33.8, 114.3, 34.4)

_OX_NAMES = (
    "overpass_url",
    "overpass_rate_limit",
    "overpass_settings",
    "overpass_memory",
    "requests_timeout",
    "requests_kwargs",
    "http_user_agent",
)


@dataclass
class Reply:
    """One scripted answer; ``declared_length`` > len(body) makes the server hang up early;
    ``delay_s`` is how long the server thinks before it answers."""

    status: int = 200
    body: bytes = RESPONSE
    headers: dict[str, str] = field(default_factory=dict)
    declared_length: int | None = None
    delay_s: float = 0.0


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    query: str | None = None


class StandIn:
    """A local Overpass stand-in that replays scripted replies and records requests."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.replies: deque[Reply] = deque()
        self.default = Reply()
        self.status_text = STATUS
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _record(self, query: str | None = None) -> None:
                with stand_in._lock:
                    stand_in.requests.append(
                        Request(self.command, self.path, dict(self.headers), query)
                    )

            def do_GET(self) -> None:
                self._record()
                body = stand_in.status_text.encode()
                status = 200 if self.path == "/api/status" else 404
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                self._record(parse_qs(raw.decode())["data"][0])
                with stand_in._lock:
                    reply = stand_in.replies.popleft() if stand_in.replies else stand_in.default
                if self.path != "/api/interpreter":
                    reply = Reply(404, b"not found")
                time.sleep(reply.delay_s)
                length = reply.declared_length or len(reply.body)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/osm3s+xml")
                    self.send_header("Content-Length", str(length))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up waiting (a deadline cut it off)
                if length > len(reply.body):
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()
        self.running = True

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/api"

    @property
    def posts(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST"]

    def stop(self) -> None:
        if self.running:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(timeout=2)
            self.running = False


@pytest.fixture(autouse=True)
def _overpass_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Restore osmnx's Overpass settings; by default point them at a closed local port."""
    saved = {name: getattr(ox_settings, name) for name in _OX_NAMES}
    ox_settings.overpass_url = "http://127.0.0.1:9/api"  # never the real Overpass
    ox_settings.overpass_rate_limit = True
    ox_settings.overpass_settings = "[out:json][timeout:{timeout}]{maxsize}"
    ox_settings.overpass_memory = None
    ox_settings.requests_timeout = 60
    ox_settings.requests_kwargs = {}
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, "127.0.0.1,localhost")
    yield
    for name, value in saved.items():
        setattr(ox_settings, name, value)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Seconds the module would have slept, in order (nothing actually sleeps)."""
    recorded: list[float] = []
    monkeypatch.setattr(overpass.fetch, "_sleep", recorded.append)
    return recorded


@pytest.fixture
def server(waits: list[float]) -> Iterator[StandIn]:
    stand_in = StandIn()
    ox_settings.overpass_url = stand_in.url
    yield stand_in
    stand_in.stop()


def _rings(query: str) -> list[shapely.Polygon]:
    """The ``poly:`` filters of a query as lon/lat polygons (one per distinct ring)."""
    rings = []
    for text in dict.fromkeys(re.findall(r'poly:"([^"]+)"', query)):
        values = [float(v) for v in text.split()]
        rings.append(shapely.Polygon(list(zip(values[1::2], values[0::2]))))
    return rings


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith("."))


# --------------------------------------------------------------------------- query


def test_query_lists_filters_and_polygon() -> None:
    query = overpass.build_query(POLY, timeout_s=90)
    ring = "34.020000 113.830000 34.020000 113.870000 34.045000 113.870000 34.045000 113.830000"
    lines = query.splitlines()
    assert lines[0] == "[out:xml][timeout:90];"
    assert lines[1:9] == [
        "(",
        f'  way["highway"](poly:"{ring}");',
        f'  node["place"](poly:"{ring}");',
        f'  nwr["amenity"](poly:"{ring}");',
        f'  nwr["healthcare"](poly:"{ring}");',
        f'  nwr["public_transport"](poly:"{ring}");',
        f'  node["highway"="bus_stop"](poly:"{ring}");',
        ");",
    ]
    assert lines[-2:] == ["(._;>;);", "out body qt;"]
    assert "building" not in query


def test_query_rounds_coordinates_to_six_decimals() -> None:
    poly = shapely.Polygon([(113.831234449, 34.0200004), (113.87, 34.02), (113.85, 34.0456789)])
    query = overpass.build_query(poly)
    assert '"34.020000 113.831234 34.020000 113.870000 34.045679 113.850000"' in query


def test_query_takes_output_settings_from_osmnx() -> None:
    ox_settings.overpass_settings = (
        '[out:json][timeout:{timeout}]{maxsize}[date:"2024-01-01T00:00:00Z"]'
    )
    ox_settings.overpass_memory = 1_073_741_824
    query = overpass.build_query(POLY, timeout_s=60)
    assert query.splitlines()[0] == (
        '[out:xml][timeout:60][maxsize:1073741824][date:"2024-01-01T00:00:00Z"];'
    )


def test_cache_key_ignores_timeout_and_memory_but_not_area_or_date() -> None:
    key = overpass.cache_key(overpass.build_query(POLY, timeout_s=180))
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    assert overpass.cache_key(overpass.build_query(POLY, timeout_s=25)) == key
    ox_settings.overpass_memory = 2_000_000_000
    assert overpass.cache_key(overpass.build_query(POLY)) == key
    ox_settings.overpass_settings = '[out:json][timeout:{timeout}][date:"2020-01-01T00:00:00Z"]'
    assert overpass.cache_key(overpass.build_query(POLY)) != key
    ox_settings.overpass_settings = "[out:json][timeout:{timeout}]{maxsize}"
    other = affinity.translate(POLY, 0.01)
    assert overpass.cache_key(overpass.build_query(other)) != key


def test_query_simplifies_a_detailed_polygon_and_still_covers_it() -> None:
    circle = shapely.Point(113.85, 34.03).buffer(0.2, quad_segs=1000)  # 4,000 vertices
    query = overpass.build_query(circle)
    (ring,) = _rings(query)
    assert len(ring.exterior.coords) - 1 <= overpass.MAX_QUERY_VERTICES
    assert ring.covers(circle)
    assert ring.area < circle.area * 1.02  # grown only slightly


def test_query_multipolygon_parts() -> None:
    far = shapely.MultiPolygon([POLY, affinity.translate(POLY, 1.0)])
    rings = _rings(overpass.build_query(far))
    assert len(rings) == 2  # one poly filter per part, for every statement
    assert overpass.build_query(far).count("poly:") == 2 * 6

    squares = shapely.MultiPolygon(
        [shapely.box(113.8 + 0.02 * i, 34.0, 113.81 + 0.02 * i, 34.01) for i in range(20)]
    )
    rings = _rings(overpass.build_query(squares))
    assert len(rings) <= overpass.MAX_QUERY_RINGS
    assert shapely.MultiPolygon(rings).covers(squares)


@pytest.mark.parametrize(
    ("polygon", "kwargs", "match"),
    [
        (shapely.box(250_000, 3_765_000, 260_000, 3_770_000), {}, "WGS-84"),
        (shapely.box(34.0, 113.8, 34.1, 113.9), {}, "x is longitude"),  # swapped
        (shapely.LineString([(113.8, 34.0), (113.9, 34.1)]), {}, "Polygon or MultiPolygon"),
        (shapely.Polygon(), {}, "empty"),
        ("113.8 34.0 113.9 34.1", {}, "shapely Polygon"),
        (POLY, {"timeout_s": 0}, "timeout_s"),
    ],
)
def test_query_rejects_bad_input(polygon: object, kwargs: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        overpass.build_query(polygon, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"retries": -1}, "retries"), ({"backoff_s": float("nan")}, "backoff_s")],
)
def test_download_rejects_bad_options(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        overpass.download(POLY, cache_dir=tmp_path, **kwargs)


# --------------------------------------------------------------------------- download and cache


def test_download_writes_the_cache_and_reads_like_an_extract(
    server: StandIn, tmp_path: Path
) -> None:
    path = overpass.download(POLY, cache_dir=tmp_path / "raw")
    query = overpass.build_query(POLY, timeout_s=60)
    assert path == tmp_path / "raw" / f"overpass_{overpass.cache_key(query)}.osm"
    assert path == overpass.cache_path(POLY, cache_dir=tmp_path / "raw")
    assert path.read_bytes() == RESPONSE

    (post,) = server.posts
    assert post.path == "/api/interpreter"
    assert post.query == query
    assert post.headers["User-Agent"] == ox_settings.http_user_agent
    assert [r.path for r in server.requests] == ["/api/status", "/api/interpreter"]

    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["query"] == query
    assert meta["url"] == server.url + "/interpreter"
    assert meta["bytes"] == len(RESPONSE)
    assert meta["sha256"] == hashlib.sha256(RESPONSE).hexdigest()
    assert meta["osm_base"] == "2024-05-12T08:21:45Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["timestamp"])
    assert _leftovers(tmp_path) == []

    data = osm.read(path, clip=POLY)
    seg = data.roads.segments
    assert seg.groupby("way").size().to_dict() == {539113020: 3, 539113021: 2, 711230456: 2}
    assert set(seg.loc[seg["way"] == 539113020, "maxspeed"]) == {60.0}
    assert data.places.loc["n2841907733", "name"] == "王庄村"
    assert data.places.loc["n2841907733", "population"] == 1850
    assert set(data.pois.index) == {"n7789012345", "n7789012399"}
    assert data.pois.loc["n7789012345", "name"] == "王庄小学"
    assert data.pois.loc["n7789012399", "tags"]["highway"] == "bus_stop"


def test_second_call_is_a_cache_hit_without_any_request(server: StandIn, tmp_path: Path) -> None:
    first = overpass.download(POLY, cache_dir=tmp_path)
    server.requests.clear()
    assert overpass.download(POLY, cache_dir=tmp_path) == first
    # endpoint and timeout are not part of the key
    assert (
        overpass.download(POLY, cache_dir=tmp_path, url="http://127.0.0.1:9/x", timeout_s=5)
        == first
    )
    server.stop()
    assert overpass.download(POLY, cache_dir=tmp_path, offline=True) == first
    assert server.requests == []


def test_rate_limit_waits_for_a_free_slot(
    server: StandIn, waits: list[float], tmp_path: Path
) -> None:
    server.status_text = STATUS_BUSY
    overpass.download(POLY, cache_dir=tmp_path)
    assert waits == [3.0]

    ox_settings.overpass_rate_limit = False
    server.requests.clear()
    overpass.download(affinity.translate(POLY, 0.001), cache_dir=tmp_path)
    assert [r.method for r in server.requests] == ["POST"]


def test_runtime_error_is_retried_then_fails_and_nothing_is_cached(
    server: StandIn, waits: list[float], tmp_path: Path
) -> None:
    server.default = Reply(body=RUNTIME_ERROR)
    with pytest.raises(DataSourceError, match="runtime error: Query timed out") as info:
        overpass.download(POLY, cache_dir=tmp_path, retries=2, backoff_s=0.001)
    assert len(server.posts) == 3
    assert waits == [0.001, 0.002]  # exponential backoff
    assert "3 attempt(s)" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_runtime_error_then_success(server: StandIn, tmp_path: Path) -> None:
    server.replies.extend([Reply(body=RUNTIME_ERROR)])
    path = overpass.download(POLY, cache_dir=tmp_path, backoff_s=0.001)
    assert path.read_bytes() == RESPONSE
    assert len(server.posts) == 2


def test_429_then_200_obeys_retry_after(
    server: StandIn, waits: list[float], tmp_path: Path
) -> None:
    server.replies.append(Reply(429, b"Too Many Requests", {"Retry-After": "7"}))
    path = overpass.download(POLY, cache_dir=tmp_path, backoff_s=0.001)
    assert path.read_bytes() == RESPONSE
    assert len(server.posts) == 2
    assert waits == [7.0]


def test_retry_after_is_capped(server: StandIn, waits: list[float], tmp_path: Path) -> None:
    server.replies.append(Reply(503, b"busy", {"Retry-After": "86400"}))
    overpass.download(POLY, cache_dir=tmp_path, backoff_s=0.001, deadline_s=1000)
    assert waits == [overpass.MAX_WAIT_S]


def test_a_wait_past_the_deadline_fails_at_once(
    server: StandIn, waits: list[float], tmp_path: Path
) -> None:
    server.replies.append(Reply(503, b"busy", {"Retry-After": "120"}))
    with pytest.raises(
        DataSourceError, match=r"a retry in 120\.0 s would come after the deadline"
    ) as info:
        overpass.download(POLY, cache_dir=tmp_path, deadline_s=60)
    # the server answered: busy, not unreachable
    assert not isinstance(info.value, ServerUnreachableError)
    assert waits == [] and len(server.posts) == 1


def test_a_server_that_answers_errors_is_not_called_unreachable(
    server: StandIn, waits: list[float], tmp_path: Path
) -> None:
    server.default = Reply(504, b"gateway timeout")
    with pytest.raises(
        DataSourceError, match=r"4 attempt\(s\) in \d+ s \(deadline 180 s\)"
    ) as info:
        overpass.download(POLY, cache_dir=tmp_path, backoff_s=0.001)
    assert not isinstance(info.value, ServerUnreachableError)


def test_truncated_response_is_never_cached(
    server: StandIn, waits: list[float], tmp_path: Path
) -> None:
    server.default = Reply(body=RESPONSE[: len(RESPONSE) // 2])
    with pytest.raises(DataSourceError, match="truncated"):
        overpass.download(POLY, cache_dir=tmp_path, retries=1, backoff_s=0.001)
    assert len(server.posts) == 2
    assert list(tmp_path.iterdir()) == []

    server.default = Reply()
    server.replies.append(Reply(body=RESPONSE[:200]))
    path = overpass.download(POLY, cache_dir=tmp_path, backoff_s=0.001)
    assert path.read_bytes() == RESPONSE


def test_connection_cut_mid_body_is_retried(server: StandIn, tmp_path: Path) -> None:
    half = RESPONSE[: len(RESPONSE) // 2]
    server.replies.append(Reply(body=half, declared_length=len(RESPONSE)))
    path = overpass.download(POLY, cache_dir=tmp_path, backoff_s=0.001)
    assert path.read_bytes() == RESPONSE
    assert len(server.posts) == 2
    assert _leftovers(tmp_path) == []


def test_other_4xx_fails_at_once(server: StandIn, waits: list[float], tmp_path: Path) -> None:
    server.default = Reply(400, BAD_REQUEST)
    with pytest.raises(DataSourceError, match=r"HTTP 400 .*parse error") as info:
        overpass.download(POLY, cache_dir=tmp_path, backoff_s=0.001)
    assert len(server.posts) == 1
    assert waits == []
    assert "--osm-file" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_an_answer_that_is_not_osm_xml_is_rejected(server: StandIn, tmp_path: Path) -> None:
    server.default = Reply(body=b"<!DOCTYPE html><html><body>Welcome to nginx!</body></html>")
    with pytest.raises(DataSourceError, match="not OSM XML"):
        overpass.download(POLY, cache_dir=tmp_path, backoff_s=0.001)
    assert len(server.posts) == 1
    assert list(tmp_path.iterdir()) == []


def test_no_network_and_no_cache_says_how_to_work_offline(
    server: StandIn, waits: list[float], tmp_path: Path
) -> None:
    server.stop()  # connection refused from now on
    expected = overpass.cache_path(POLY, cache_dir=tmp_path)
    with pytest.raises(DataSourceError, match="--osm-file") as info:
        overpass.download(POLY, cache_dir=tmp_path, retries=1, backoff_s=0.001)
    message = str(info.value)
    assert isinstance(info.value, ServerUnreachableError)  # refused: no answer at all
    assert "download failed" in message and "no answer from" in message
    assert "ConnectionError" in message
    assert str(expected) in message
    assert ".osm.pbf" in message and "geofabrik" in message.lower()
    assert server.url in message
    assert waits == [0.001]
    assert not expected.exists()


@pytest.fixture
def silent(waits: list[float]) -> Iterator[Silent]:
    stand_in = Silent()
    ox_settings.overpass_url = stand_in.url
    yield stand_in
    stand_in.stop()


@pytest.mark.parametrize("rate_limit", [True, False])
def test_a_server_that_never_answers_fails_at_the_deadline_with_progress_lines(
    silent: Silent,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    rate_limit: bool,
) -> None:
    ox_settings.overpass_rate_limit = rate_limit
    monkeypatch.setattr(overpass.fetch, "PROGRESS_EVERY_S", 0.4)
    started = time.perf_counter()
    with (
        caplog.at_level(logging.INFO, logger="accessibility.sources.overpass"),
        pytest.raises(ServerUnreachableError) as info,
    ):
        overpass.download(POLY, cache_dir=tmp_path, backoff_s=0.001, deadline_s=1.5)
    seconds = time.perf_counter() - started
    assert 1.4 < seconds < 4.0  # the deadline, not 4 attempts × (60 s + 30 s)
    message = str(info.value)
    assert f"no answer from {silent.url}/interpreter" in message
    assert "(deadline 1.5 s)" in message and "Timeout" in message
    assert "--osm-file henan-latest.osm.pbf" in message
    assert "source: {kind: osm_file, path: henan-latest.osm.pbf}` in the region file" in message
    lines = [r.getMessage() for r in caplog.records]
    assert any("gives up after 1.5 s" in line for line in lines)  # said before waiting
    assert any("still waiting for whole polygon" in line for line in lines)
    assert list(tmp_path.iterdir()) == []


def test_the_deadline_comes_from_the_settings(
    silent: Silent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessibility.settings import OVERPASS_DEADLINE_ENV, settings

    ox_settings.overpass_rate_limit = False
    monkeypatch.setenv(OVERPASS_DEADLINE_ENV, "0.5")
    with pytest.raises(ServerUnreachableError, match=r"\(deadline 0\.5 s\)"):
        overpass.find_boundaries(names=["示例县"], cache_dir=tmp_path)
    settings.overpass_deadline_s = 0.3  # the setting wins over the environment
    with pytest.raises(ServerUnreachableError, match=r"\(deadline 0\.3 s\)"):
        overpass.download(POLY, cache_dir=tmp_path)
    monkeypatch.setenv(OVERPASS_DEADLINE_ENV, "soon")
    settings.overpass_deadline_s = None
    with pytest.raises(
        ValidationError, match="ACCESSIBILITY_OVERPASS_DEADLINE_S must be a number of seconds > 0"
    ):
        overpass.download(POLY, cache_dir=tmp_path)


def test_the_endpoint_can_come_from_the_environment(
    server: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessibility.settings import OVERPASS_URL_ENV

    monkeypatch.setenv(OVERPASS_URL_ENV, server.url)
    ox_settings.overpass_url = "http://127.0.0.1:9/api"  # the environment wins over osmnx
    assert overpass.download(POLY, cache_dir=tmp_path).read_bytes() == RESPONSE
    assert len(server.posts) == 1


def test_offline_without_cache_fails_without_a_request(server: StandIn, tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"offline=True.*--osm-file"):
        overpass.download(POLY, cache_dir=tmp_path / "raw", offline=True)
    assert server.requests == []
    assert not (tmp_path / "raw").exists()


# --------------------------------------------------------------------------- tiles


def _elements(path: Path) -> list[tuple[str, int]]:
    root = ET.parse(path).getroot()
    return [(el.tag, int(el.attrib["id"])) for el in root if el.tag in ("node", "way", "relation")]


def test_large_polygon_is_split_into_tiles_and_merged(server: StandIn, tmp_path: Path) -> None:
    path = overpass.download(LARGE, cache_dir=tmp_path)
    assert path == overpass.cache_path(LARGE, cache_dir=tmp_path)
    assert len(server.posts) == 4  # the same response for every tile
    tiles = sorted((tmp_path / overpass.TILE_DIR).glob("overpass_*.osm"))
    assert len(tiles) == 4
    # the tiles together cover the polygon, each under the area threshold
    tile_rings = [_rings(post.query or "") for post in server.posts]
    assert shapely.union_all([r for rings in tile_rings for r in rings]).covers(LARGE)
    assert all(overpass._area_km2(rings[0]) <= overpass.MAX_QUERY_AREA_KM2 for rings in tile_rings)

    elements = _elements(path)
    assert len(elements) == len(set(elements)) == 15  # duplicates removed
    order = {"node": 0, "way": 1, "relation": 2}
    assert elements == sorted(elements, key=lambda e: (order[e[0]], e[1]))
    assert [tag for tag, _ in elements].count("way") == 3
    assert _elements(DATA / "response.osm") != elements  # the recorded one is not sorted
    assert sorted(_elements(DATA / "response.osm")) == sorted(elements)

    meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert meta["elements"] == {"nodes": 11, "ways": 3, "relations": 1}
    assert len(meta["tiles"]) == 4
    assert _leftovers(tmp_path) == []

    data = osm.read(path)
    assert len(data.roads.segments) == 7
    assert set(data.pois.index) == {"n7789012345", "n7789012399"}

    # a second run needs no request; offline, the cached tiles are enough to rebuild
    server.requests.clear()
    assert overpass.download(LARGE, cache_dir=tmp_path) == path
    path.unlink()
    assert overpass.download(LARGE, cache_dir=tmp_path, offline=True) == path
    assert _elements(path) == elements
    assert server.requests == []


def test_a_failing_tile_keeps_the_tiles_already_downloaded(server: StandIn, tmp_path: Path) -> None:
    server.replies.extend([Reply(), Reply(), Reply(400, BAD_REQUEST)])
    with pytest.raises(DataSourceError, match="HTTP 400"):
        overpass.download(LARGE, cache_dir=tmp_path)
    assert len(list((tmp_path / overpass.TILE_DIR).glob("*.osm"))) == 2
    assert not overpass.cache_path(LARGE, cache_dir=tmp_path).exists()
    server.requests.clear()
    overpass.download(LARGE, cache_dir=tmp_path)
    assert len(server.posts) == 2  # only the missing tiles


# --------------------------------------------------------------------------- region total

#: How long the slow stand-in thinks about each query, and a region total that lets it
#: answer two queries and cuts the third off halfway (margins of 0.25 s either way).
SLOW_S = 0.5
TOTAL_S = 1.25


def _tile_paths(polygon: shapely.Geometry, cache_dir: Path) -> list[Path]:
    """The cache files of the tiles of ``polygon``, in the order they are downloaded."""
    return [
        cache_dir
        / overpass.TILE_DIR
        / f"overpass_{overpass.cache_key(overpass.build_query(tile, timeout_s=60))}.osm"
        for tile in overpass._tiles(polygon, overpass.MAX_QUERY_AREA_KM2)
    ]


def test_a_region_total_stops_slow_tiles_and_says_how_to_go_on(
    server: StandIn, tmp_path: Path
) -> None:
    from accessibility.settings import settings

    ox_settings.overpass_rate_limit = False
    server.default = Reply(delay_s=SLOW_S)
    assert settings.overpass_deadline == 180  # each tile alone is far inside its deadline
    started = time.perf_counter()
    with (
        overpass.region_budget(TOTAL_S, name="region slow unit 1 (慢县)") as budget,
        pytest.raises(DataSourceError) as info,
    ):
        overpass.download(LARGE, cache_dir=tmp_path)
    seconds = time.perf_counter() - started
    assert seconds < TOTAL_S + 1.0  # not 4 × 0.5 s, let alone 180 s
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(
        "Overpass download stopped: the queries for region slow unit 1 (慢县) used up their "
        "total of 1.25 s: "
    )
    assert "2 queries answered and 0 read from the cache before tile 3/4 was cut off" in message
    assert f"The answers downloaded stay in {tmp_path}, so a rerun asks only" in message
    assert "--overpass-region-deadline SECONDS" in message
    assert "ACCESSIBILITY_OVERPASS_REGION_DEADLINE_S" in message
    assert "--osm-file henan-latest.osm.pbf" in message
    assert "`source: {kind: osm_file, path: henan-latest.osm.pbf}` in the region file" in message
    # the server answered two tiles: slow, not unreachable
    assert not isinstance(info.value, ServerUnreachableError)
    assert (budget.answered, budget.cached, budget.reached) == (2, 0, True)
    assert TOTAL_S - 0.1 < budget.spent_s < TOTAL_S + 0.5
    # the tiles answered in time are kept; nothing was merged
    assert [p.is_file() for p in _tile_paths(LARGE, tmp_path)] == [True, True, False, False]
    assert not overpass.cache_path(LARGE, cache_dir=tmp_path).exists()
    assert len(server.posts) == 3


def test_cached_answers_cost_nothing_against_the_total(server: StandIn, tmp_path: Path) -> None:
    ox_settings.overpass_rate_limit = False
    overpass.download(LARGE, cache_dir=tmp_path)  # every tile cached, answered at once
    tiles = _tile_paths(LARGE, tmp_path)
    merged = overpass.cache_path(LARGE, cache_dir=tmp_path)
    merged.unlink()
    tiles[2].unlink()
    tiles[3].unlink()
    server.requests.clear()
    server.default = Reply(delay_s=SLOW_S)

    # two tiles cached and two slow ones: the total of 0.75 s is enough for one of them
    with (
        overpass.region_budget(0.75, name="region slow") as budget,
        pytest.raises(DataSourceError, match="used up their total of 0.75 s") as info,
    ):
        overpass.download(LARGE, cache_dir=tmp_path)
    assert "1 query answered and 2 read from the cache before tile 4/4 was cut off" in str(
        info.value
    )
    assert (budget.answered, budget.cached) == (1, 2)
    assert 0.65 < budget.spent_s < 1.25

    # three cached: the last one fits
    with overpass.region_budget(0.75, name="region slow") as budget:
        assert overpass.download(LARGE, cache_dir=tmp_path) == merged
    assert (budget.answered, budget.cached) == (1, 3)
    assert SLOW_S - 0.1 < budget.spent_s < 0.75

    # everything cached: nothing spent, however small the total
    server.requests.clear()
    with overpass.region_budget(0.001, name="region slow") as budget:
        overpass.download(LARGE, cache_dir=tmp_path)
    assert (budget.answered, budget.cached, budget.spent_s) == (0, 1, 0.0)
    merged.unlink()
    with overpass.region_budget(0.001, name="region slow") as budget:
        overpass.download(LARGE, cache_dir=tmp_path)  # merged again from the cached tiles
    assert (budget.answered, budget.cached, budget.spent_s) == (0, 4, 0.0)
    assert server.requests == []


def test_the_smaller_of_the_query_deadline_and_the_total_is_in_force(
    silent: Silent,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The boundary and the data share the total; a server that answered none of them is
    unreachable, and the progress lines say what is left of the total."""
    ox_settings.overpass_rate_limit = False
    monkeypatch.setattr(overpass.fetch, "PROGRESS_EVERY_S", 0.3)
    with (
        caplog.at_level(logging.INFO, logger="accessibility.sources.overpass"),
        overpass.region_budget(1.5, name="region quiet") as budget,
    ):
        # the query's own deadline is the smaller: the usual message
        with pytest.raises(ServerUnreachableError, match=r"\(deadline 0\.6 s\)") as first:
            overpass.find_boundaries(names=["示例县"], cache_dir=tmp_path, deadline_s=0.6)
        assert "used up" not in str(first.value)
        # what is left of the total (about 0.9 s) is the smaller for the next query
        started = time.perf_counter()
        with pytest.raises(ServerUnreachableError) as info:
            overpass.download(POLY, cache_dir=tmp_path, deadline_s=100)
        seconds = time.perf_counter() - started
    assert seconds < 0.9 + 1.0  # not 100 s
    message = str(info.value)
    assert message.startswith(
        "Overpass download stopped: the queries for region quiet used up their total of 1.5 s: "
    )
    assert "0 queries answered and 0 read from the cache before whole polygon was cut off" in (
        message
    )
    assert "--overpass-region-deadline" in message and "--osm-file" in message
    assert "answers downloaded stay" not in message  # there are none
    assert budget.spent_s > 1.4 and not budget.reached
    lines = [r.getMessage() for r in caplog.records]
    assert any("gives up after 0.6 s; 1.5 s left of the 1.5 s total" in line for line in lines)
    assert any(
        "still waiting for whole polygon" in line
        and "left of the 1.5 s total for region quiet" in line
        for line in lines
    )


def test_each_region_budget_starts_afresh_and_ends_with_its_block(
    server: StandIn, tmp_path: Path
) -> None:
    with overpass.region_budget(5, name="region a") as budget:
        budget.spent_s = 6.0  # e.g. a download that was receiving data overran it
        with pytest.raises(DataSourceError, match="region a used up their total of 5 s") as info:
            overpass.download(POLY, cache_dir=tmp_path)
        assert not isinstance(info.value, ServerUnreachableError)
        assert server.requests == []  # failed at once
        with overpass.region_budget(5, name="region b") as inner:  # replaces it until it ends
            assert overpass.budget._BUDGET.get() is inner
        assert overpass.budget._BUDGET.get() is budget
    assert overpass.budget._BUDGET.get() is None
    with overpass.region_budget(5, name="region c") as budget:
        assert overpass.download(POLY, cache_dir=tmp_path).read_bytes() == RESPONSE
    assert (budget.answered, budget.cached, budget.reached) == (1, 0, True)
    assert overpass.budget._BUDGET.get() is None


def test_the_region_total_comes_from_the_settings(
    silent: Silent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessibility.settings import OVERPASS_REGION_DEADLINE_ENV, settings

    ox_settings.overpass_rate_limit = False
    assert settings.overpass_region_deadline == 900
    # outside region_budget, a call has a total of its own
    monkeypatch.setenv(OVERPASS_REGION_DEADLINE_ENV, "0.5")
    with pytest.raises(
        ServerUnreachableError, match=r"the boundary lookup overpass_\w+\.osm used up .* 0\.5 s"
    ):
        overpass.find_boundaries(names=["示例县"], cache_dir=tmp_path)
    settings.overpass_region_deadline_s = 0.3  # the setting wins over the environment
    with pytest.raises(ServerUnreachableError, match=r"used up their total of 0\.3 s"):
        overpass.download(POLY, cache_dir=tmp_path)
    with (
        overpass.region_budget(name="region x") as budget,
        pytest.raises(ServerUnreachableError, match="region x used up their total of 0.3 s"),
    ):
        overpass.download(POLY, cache_dir=tmp_path)
    assert budget.total_s == 0.3


@pytest.mark.parametrize("value", [0, -5, "soon", float("nan"), True])
def test_a_bad_region_total_is_refused(
    value: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessibility.settings import OVERPASS_REGION_DEADLINE_ENV, settings

    with (
        pytest.raises(ValidationError, match="seconds must be a number of seconds > 0"),
        overpass.region_budget(value, name="region x"),  # type: ignore[arg-type]
    ):
        pass
    monkeypatch.setenv(OVERPASS_REGION_DEADLINE_ENV, str(value))
    with pytest.raises(
        ValidationError,
        match="environment variable ACCESSIBILITY_OVERPASS_REGION_DEADLINE_S must be a number",
    ):
        overpass.download(POLY, cache_dir=tmp_path)
    settings.overpass_region_deadline_s = value  # type: ignore[assignment]
    with (
        pytest.raises(
            ValidationError, match="settings.overpass_region_deadline_s must be a number"
        ),
        overpass.region_budget(name="region x"),
    ):
        pass
