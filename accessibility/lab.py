"""JupyterLab on the notebooks, with the kernel they name: ``make lab``.

Design
------
In:  ``--port`` (none: a desktop, where a browser opens; a number: headless, for a
     server reached through an SSH tunnel), ``--ip`` (the address the server listens
     on; default 127.0.0.1 when headless), ``--notebook-dir`` (default ``notebooks/``
     under the project root).
Out: a JupyterLab server in place of this process, started by this environment's
     Python: its signals and exit status are the server's, and it prints its URL with
     the token. Before that, the kernel the notebooks name (:data:`KERNEL_NAME`) is
     registered for this Python when Jupyter would otherwise not find it or start
     another Python with it.

How
---
1. With a port, the address and port are tried first (a socket bound and closed), so
   a port in use or an address not of this machine is one line saying what to change;
   the server is then told to fail rather than move to another port
   (``--ServerApp.port_retries=0``): an SSH tunnel or a firewall rule names one port.
2. The kernel is looked up as Jupyter looks it up (its kernel folders in order, see
   ``jupyter --paths``). It is left alone when its command starts this Python (an
   absolute path in this environment's ``bin/``, or a bare ``python``/``python3``,
   which Jupyter replaces with the server's own Python); otherwise it is written to
   ``<sys.prefix>/share/jupyter/kernels/`` and looked up again. A second launch writes
   nothing. A kernel from another environment that Jupyter reads first (a folder
   under ``~/.local/share/jupyter`` when environments do not come first, or on
   ``JUPYTER_PATH``) is named in the error instead of being overwritten.
3. ``--allow-root`` is passed only when the effective user is root (containers and
   many servers run so; JupyterLab refuses root without it).
4. The command is ``<sys.executable> -m jupyterlab …``, run with ``exec``.

Tests: ``tests/test_lab.py`` — the command as root and not, with and without a port;
the kernel lookup and registration in kernel folders made for the test (missing,
another Python, a bare ``python``, one read before the environment's); a port in use;
the launcher started on a free port answers ``/api`` with the server's version.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ._errors import LabError
from .settings import KERNEL_NAME, settings

log = logging.getLogger("accessibility.lab")  # the same name when run with -m

#: Address a headless server listens on unless told otherwise: this machine only,
#: reached from elsewhere through an SSH tunnel.
DEFAULT_IP = "127.0.0.1"
#: Addresses that mean "every interface".
_EVERY_INTERFACE = frozenset({"0.0.0.0", "::", ""})


@dataclass(frozen=True)
class Kernel:
    """A kernel as Jupyter finds it.

    Attributes
    ----------
    name
        Kernel name (the folder's name, as in a notebook's metadata).
    folder
        The folder holding its ``kernel.json``.
    python
        The program its command starts (an absolute path or a name looked up on
        ``PATH``); empty when ``kernel.json`` cannot be read or has no command.
    ours
        The program is this environment's Python.
    """

    name: str
    folder: Path
    python: str
    ours: bool


def _is_this_python(program: str) -> bool:
    """Whether a kernel command starting ``program`` runs this Python."""
    if not program:
        return False
    if os.sep not in program and not (os.altsep and os.altsep in program):
        # Jupyter starts its own Python for these names, and the server is this Python
        major, minor = sys.version_info[:2]
        return program in {"python", f"python{major}", f"python{major}.{minor}"}
    path, here = Path(program), Path(sys.executable)
    # same folder (a venv's bin/) and same interpreter; the folder is compared, not only
    # the resolved file, since every venv's python resolves to the one it was made from
    return path.parent.resolve() == here.parent.resolve() and path.resolve() == here.resolve()


def find_kernel(name: str = KERNEL_NAME) -> Kernel | None:
    """The kernel ``name`` that Jupyter, started by this Python, would use.

    ``None`` when no kernel folder of that name exists (ipykernel's built-in
    fallback for ``python3`` is not counted: it is not registered anywhere).
    """
    from ipykernel.kernelspec import RESOURCES
    from jupyter_client.kernelspec import KernelSpecManager

    found = KernelSpecManager().find_kernel_specs().get(name)
    if found is None or Path(found) == Path(RESOURCES):
        return None
    folder = Path(found)
    try:
        spec = json.loads((folder / "kernel.json").read_text("utf-8"))
        argv = spec["argv"]
        program = str(argv[0])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        program = ""
    return Kernel(name=name, folder=folder, python=program, ours=_is_this_python(program))


def ensure_kernel(name: str = KERNEL_NAME, *, prefix: Path | str | None = None) -> bool:
    """Register kernel ``name`` for this Python unless Jupyter already starts this Python with it.

    Parameters
    ----------
    name
        Kernel name the notebooks give in their metadata.
    prefix
        Environment folder to register it in (``<prefix>/share/jupyter/kernels/<name>``);
        default this Python's ``sys.prefix``.

    Returns
    -------
    bool
        ``True`` when the kernel was written now, ``False`` when it was left as it was.

    Raises
    ------
    LabError
        The folder cannot be written, or Jupyter would still read another
        environment's kernel of that name first (the message names its folder).
    """
    before = find_kernel(name)
    if before is not None and before.ours:
        log.info("kernel %r starts %s (%s)", name, sys.executable, before.folder)
        return False
    from ipykernel.kernelspec import install

    where = Path(prefix if prefix is not None else sys.prefix)
    why = "missing" if before is None else f"{before.folder} starts {before.python or '?'}"
    try:
        install(kernel_name=name, prefix=str(where))
    except OSError as exc:
        msg = (
            f"cannot register kernel {name!r} in {where} ({why}): {exc}; "
            f"start JupyterLab as the user who owns {where}"
        )
        raise LabError(msg) from None
    after = find_kernel(name)
    if after is None or not after.ours:
        shown = f"{after.folder}, which starts {after.python or '?'}" if after else "nothing"
        msg = (
            f"kernel {name!r} was registered in {where}, but Jupyter reads {shown}; "
            f"the notebooks would not run with this package: remove or rename that "
            f"folder, or take it off JUPYTER_PATH"
        )
        raise LabError(msg)
    log.info("kernel %r registered for %s (was %s)", name, sys.executable, why)
    return True


def check_address(ip: str, port: int) -> None:
    """Fail unless a server can listen on ``ip`` port ``port`` now.

    Raises
    ------
    LabError
        The port is in use, needs privileges, or ``ip`` is not an address of this
        machine; the message says which and what to pass instead.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            ip or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        msg = f"IP {ip!r} is not an address ({exc.strerror}); use 127.0.0.1, or 0.0.0.0 for every interface"
        raise LabError(msg) from None
    with socket.socket(family, kind, proto) as sock:
        if os.name != "nt":  # as the server does: a port left in TIME_WAIT is free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                msg = (
                    f"port {port} on {ip} is in use (another JupyterLab?); "
                    f"choose another, e.g. PORT={port + 1 if port < 65535 else 8899}"
                )
            elif exc.errno == errno.EACCES:
                msg = f"port {port} needs root; choose one above 1023, e.g. PORT=8899"
            else:
                msg = (
                    f"cannot listen on {ip} port {port} ({exc.strerror}); IP must be an "
                    "address of this machine: 127.0.0.1, or 0.0.0.0 for every interface"
                )
            raise LabError(msg) from None


def running_as_root() -> bool:
    """Whether the effective user is root (never on Windows)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(
    notebook_dir: Path | str,
    *,
    port: int | None = None,
    ip: str | None = None,
    as_root: bool = False,
) -> list[str]:
    """The JupyterLab command line.

    Parameters
    ----------
    notebook_dir
        Folder the file browser opens on.
    port
        ``None``: Jupyter picks a free port from 8888 and opens a browser. A number:
        no browser, that port or failure.
    ip
        Address to listen on; ``None`` means Jupyter's own default (localhost) with a
        browser and :data:`DEFAULT_IP` without.
    as_root
        Pass ``--allow-root``.
    """
    cmd = [sys.executable, "-m", "jupyterlab", f"--notebook-dir={notebook_dir}"]
    if port is not None:
        cmd += [
            f"--port={port}",
            "--no-browser",
            "--ServerApp.port_retries=0",
            f"--ip={ip if ip is not None else DEFAULT_IP}",
        ]
    elif ip is not None:
        cmd.append(f"--ip={ip}")
    if as_root:
        cmd.append("--allow-root")
    return cmd


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        msg = f"PORT must be a whole number from 1 to 65535, e.g. 8899; got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return port


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m accessibility.lab",
        description="JupyterLab on the notebooks with their kernel (what `make lab` runs).",
    )
    p.add_argument(
        "--port",
        type=_port,
        help="headless: serve on this port, open no browser (default: a browser opens)",
    )
    p.add_argument(
        "--ip",
        help=f"address to listen on (default {DEFAULT_IP} when headless; "
        "0.0.0.0 = every interface, e.g. in a container)",
    )
    p.add_argument(
        "--notebook-dir", type=Path, help="folder to open (default: notebooks/ of the project)"
    )
    return p


def _tunnel_hint(ip: str, port: int) -> str:
    target = "127.0.0.1" if ip in _EVERY_INTERFACE else ip
    if ":" in target:
        target = f"[{target}]"
    return (
        f"from another computer: ssh -N -L {port}:{target}:{port} <user>@<this machine>, "
        f"then open http://127.0.0.1:{port}/lab?token=<token> there"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m accessibility.lab``; on success the process becomes the server.

    Returns 2 (after one line on standard error) when the address, port, folder or
    kernel needs changing.
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    notebook_dir = args.notebook_dir or settings.project_root / "notebooks"
    try:
        if not notebook_dir.is_dir():
            msg = f"no folder {notebook_dir}; start from the project folder or pass --notebook-dir"
            raise LabError(msg)
        if args.port is not None:
            check_address(args.ip if args.ip is not None else DEFAULT_IP, args.port)
        ensure_kernel()
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    as_root = running_as_root()
    if as_root:
        log.info("running as root: JupyterLab is started with --allow-root")
    if args.port is not None:
        ip = args.ip if args.ip is not None else DEFAULT_IP
        log.info(
            "headless on %s port %d: JupyterLab prints its URL with the token below; %s",
            ip,
            args.port,
            _tunnel_hint(ip, args.port),
        )
        if ip in _EVERY_INTERFACE:
            log.warning(
                "listening on every interface: whoever reaches this machine on port %d "
                "and has the token can run code here",
                args.port,
            )
    cmd = lab_command(notebook_dir, port=args.port, ip=args.ip, as_root=as_root)
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "nt":  # no exec there: wait for the server instead
        return subprocess.call(cmd)
    os.execv(cmd[0], cmd)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
