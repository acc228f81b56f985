"""`make lab`: the JupyterLab command, the notebooks' kernel, and a server that answers.

Kernel tests work in kernel folders made under a temporary directory and put first on
Jupyter's path (``JUPYTER_PATH``); nothing is written to this environment. The server
test starts the launcher on a free port of 127.0.0.1 (no other network) and stops it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from accessibility import lab
from accessibility._errors import LabError
from accessibility.settings import KERNEL_NAME

ROOT = Path(__file__).resolve().parents[1]
#: Seconds the server may take to answer /api (it takes about 2 s on a laptop).
START_LIMIT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _write_kernel(kernels: Path, name: str, program: str) -> Path:
    folder = kernels / name
    folder.mkdir(parents=True)
    spec = {"argv": [program, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": name, "language": "python"}  # fmt: skip
    (folder / "kernel.json").write_text(json.dumps(spec), "utf-8")
    return folder / "kernel.json"


@pytest.fixture
def jupyter_dir(tmp_path, monkeypatch) -> Path:
    """A Jupyter data folder read before any other; kernels go in its ``kernels/``."""
    data = tmp_path / "share" / "jupyter"
    data.mkdir(parents=True)
    monkeypatch.setenv("JUPYTER_PATH", str(data))
    return data


# --- the command -------------------------------------------------------------------


def test_desktop_command_opens_a_browser_and_allows_root_only_as_root() -> None:
    user = lab.lab_command("nb", as_root=False)
    root = lab.lab_command("nb", as_root=True)
    assert user[:3] == [sys.executable, "-m", "jupyterlab"]
    assert "--notebook-dir=nb" in user
    assert "--allow-root" not in user
    assert root == [*user, "--allow-root"]
    assert not any(a.startswith(("--no-browser", "--port", "--ip")) for a in user)


def test_headless_command_fixes_port_and_address() -> None:
    headless = set(lab.lab_command("nb", port=8899))
    assert {"--port=8899", "--no-browser", "--ServerApp.port_retries=0"} <= headless
    assert "--ip=127.0.0.1" in headless
    assert "--ip=0.0.0.0" in lab.lab_command("nb", port=8899, ip="0.0.0.0")
    # an address alone keeps the browser
    desktop = lab.lab_command("nb", ip="0.0.0.0")
    assert "--ip=0.0.0.0" in desktop
    assert "--no-browser" not in desktop


@pytest.mark.skipif(os.name == "nt", reason="no exec, no root")
def test_main_passes_allow_root_as_root_only(monkeypatch) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(lab, "ensure_kernel", lambda *a, **k: False)
    monkeypatch.setattr(lab.os, "execv", lambda path, cmd: started.append(cmd))
    for uid in (0, 1000):
        monkeypatch.setattr(lab.os, "geteuid", lambda uid=uid: uid, raising=False)
        lab.main(["--notebook-dir", str(ROOT / "notebooks")])
    assert ["--allow-root" in cmd for cmd in started] == [True, False]


@pytest.mark.parametrize("text", ["abc", "0", "70000", "88.5"])
def test_port_must_be_a_port_number(text, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        lab.main(["--port", text])
    assert exc.value.code == 2
    expected = f"PORT must be a whole number from 1 to 65535, e.g. 8899; got '{text}'"
    assert expected in capsys.readouterr().err


def test_port_in_use_is_one_line_before_anything_starts(capsys, monkeypatch) -> None:
    monkeypatch.setattr(lab, "ensure_kernel", lambda *a, **k: pytest.fail("kernel touched"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        in_use = rf"port {port} on 127.0.0.1 is in use .* PORT={port + 1}"
        with pytest.raises(LabError, match=in_use):
            lab.check_address("127.0.0.1", port)
        assert lab.main(["--port", str(port)]) == 2
    assert capsys.readouterr().err.startswith(f"error: port {port} on 127.0.0.1 is in use")


def test_address_not_of_this_machine(monkeypatch) -> None:
    def no_name(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(LabError, match="IP 'server-a' is not an address .* 0.0.0.0 for every"):
        monkeypatch.setattr(lab.socket, "getaddrinfo", no_name)
        lab.check_address("server-a", 8899)


def test_missing_notebook_folder(tmp_path, capsys) -> None:
    assert lab.main(["--notebook-dir", str(tmp_path / "none")]) == 2
    assert "no folder" in capsys.readouterr().err


# --- the kernel --------------------------------------------------------------------


def test_every_notebook_names_the_kernel_that_is_registered() -> None:
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        spec = nbformat.read(path, as_version=4).metadata.get("kernelspec", {})
        assert spec.get("name") == KERNEL_NAME, f"{path.name} names kernel {spec.get('name')!r}"


def test_missing_kernel_registered_once(jupyter_dir, tmp_path) -> None:
    name = "accessibility-test"
    assert lab.find_kernel(name) is None
    assert lab.ensure_kernel(name, prefix=tmp_path) is True
    spec = jupyter_dir / "kernels" / name / "kernel.json"
    assert json.loads(spec.read_text("utf-8"))["argv"][0] == sys.executable
    written = spec.stat().st_mtime_ns
    assert lab.ensure_kernel(name, prefix=tmp_path) is False  # the second launch writes nothing
    assert spec.stat().st_mtime_ns == written
    assert lab.find_kernel(name) == lab.Kernel(name, spec.parent, sys.executable, True)


def test_kernel_of_another_python_replaced(jupyter_dir, tmp_path) -> None:
    spec = _write_kernel(jupyter_dir / "kernels", "accessibility-test", "/opt/other/bin/python3")
    assert lab.find_kernel("accessibility-test").ours is False
    assert lab.ensure_kernel("accessibility-test", prefix=tmp_path) is True
    assert json.loads(spec.read_text("utf-8"))["argv"][0] == sys.executable


@pytest.mark.parametrize("program", ["python", f"python{sys.version_info[0]}", sys.executable])
def test_kernel_of_this_python_left_alone(jupyter_dir, tmp_path, program) -> None:
    spec = _write_kernel(jupyter_dir / "kernels", "accessibility-test", program)
    before = spec.read_bytes()
    assert lab.ensure_kernel("accessibility-test", prefix=tmp_path) is False
    assert spec.read_bytes() == before


def test_python_of_another_environment_is_not_ours(tmp_path) -> None:
    # another venv's python resolves to the same interpreter file, yet is another environment
    other = tmp_path / "venv" / "bin" / "python"
    other.parent.mkdir(parents=True)
    other.symlink_to(Path(sys.executable).resolve())
    assert lab._is_this_python(str(other)) is False
    assert lab._is_this_python("python2.7") is False
    assert lab._is_this_python("") is False


def test_kernel_read_before_the_environment_is_named(jupyter_dir, tmp_path) -> None:
    first = _write_kernel(jupyter_dir / "kernels", "accessibility-test", "/opt/other/bin/python3")
    elsewhere = tmp_path / "env"
    named = rf"Jupyter reads {re.escape(str(first.parent))}, which starts /opt/other/bin/python3"
    with pytest.raises(LabError, match=rf"{named}.*remove or rename"):
        lab.ensure_kernel("accessibility-test", prefix=elsewhere)
    assert (elsewhere / "share" / "jupyter" / "kernels" / "accessibility-test").is_dir()


def test_kernel_folder_not_writable(jupyter_dir, tmp_path, monkeypatch) -> None:
    import ipykernel.kernelspec

    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied", kwargs["prefix"])

    monkeypatch.setattr(ipykernel.kernelspec, "install", refuse)
    refused = r"cannot register kernel 'accessibility-test' in .*\(missing\).*who owns"
    with pytest.raises(LabError, match=refused):
        lab.ensure_kernel("accessibility-test", prefix=tmp_path)


# --- the server --------------------------------------------------------------------


@pytest.mark.skipif(os.name == "nt", reason="process groups")
def test_headless_server_answers_api(tmp_path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),  # its state files, not the user's
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),  # no user configuration (password, port)
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    out = tmp_path / "lab.log"
    with out.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "accessibility.lab", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    try:
        answer = None
        deadline = time.monotonic() + START_LIMIT_S
        while answer is None and time.monotonic() < deadline:
            assert server.poll() is None, f"the launcher stopped:\n{out.read_text('utf-8')}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as r:
                    answer = json.load(r)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.25)
        assert answer is not None, f"no answer on /api:\n{out.read_text('utf-8')}"
        assert answer.get("version")
        printed = out.read_text("utf-8")
        assert f"http://127.0.0.1:{port}/lab?token=" in printed
        assert f"ssh -N -L {port}:127.0.0.1:{port}" in printed
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
