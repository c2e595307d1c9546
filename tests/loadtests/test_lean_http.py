"""The generators' lean HTTP client against a real HTTP/1.1 server: keep-alive reuse, bodies by length
or in chunks, a connection the server closed opened afresh, and an idle connection above select()'s
1,023 descriptors checked correctly (a worker holds thousands of screens' sockets)."""
from __future__ import annotations

import contextlib
import resource
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from loadtests.lean_http import LeanHttp, LeanPool, idle_connection_alive


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    peers: list[int] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Handler.peers.append(self.client_address[1])
        self.send_response(201)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Token", self.headers.get("Authorization", ""))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Handler.peers.append(self.client_address[1])
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"first ", b"second"):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/close":
            self.send_response(204)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
        else:
            self.send_response(204)
            self.end_headers()


@contextlib.contextmanager
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Handler.peers = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_requests_share_one_keep_alive_connection() -> None:
    with server() as url:
        http = LeanHttp(url)
        try:
            assert http.request("POST", "/echo", b'{"a":1}', {"Authorization": "Bearer t"}) == (201, b'{"a":1}')
            assert http.request("GET", "/") == (204, b"")
            assert http.request("POST", "/echo", b"") == (201, b"")
            assert len(set(Handler.peers)) == 1
        finally:
            http.close()


def test_a_chunked_body_is_read_whole() -> None:
    with server() as url:
        http = LeanHttp(url)
        try:
            assert http.request("GET", "/chunked") == (200, b"first second")
            assert http.request("GET", "/") == (204, b"")    # the connection was left clean
        finally:
            http.close()


def test_a_connection_the_server_closed_is_opened_afresh() -> None:
    with server() as url:
        http = LeanHttp(url)
        try:
            assert http.request("GET", "/close")[0] == 204
            assert http.request("GET", "/")[0] == 204
            assert len(set(Handler.peers)) == 2
        finally:
            http.close()


def test_a_connection_idle_for_long_is_not_reused() -> None:
    """Before the server's keep-alive timeout could close it under the next request."""
    with server() as url:
        http = LeanHttp(url, idle_s=0.2)
        try:
            assert http.request("GET", "/")[0] == 204
            assert http.request("GET", "/")[0] == 204
            time.sleep(0.3)
            assert http.request("GET", "/")[0] == 204
            assert len(set(Handler.peers)) == 2
        finally:
            http.close()


def test_a_pool_reuses_its_idle_connections() -> None:
    with server() as url:
        pool = LeanPool(url)
        for _ in range(3):
            assert pool.request("POST", "/echo", b"x")[0] == 201
        assert len(pool.idle) == 1 and len(set(Handler.peers)) == 1


@contextlib.contextmanager
def many_open_files(n: int) -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 256)), hard))
    held = [socket.socket() for _ in range(n)]
    try:
        yield
    finally:
        for s in held:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_an_idle_connection_above_fd_1023_is_alive_until_the_server_speaks_or_closes() -> None:
    with many_open_files(1_100):
        client, peer = socket.socketpair()
        try:
            assert client.fileno() > 1_023
            assert idle_connection_alive(client)            # idle: reuse it
            peer.send(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
            assert not idle_connection_alive(client)        # dirty: do not
            client.recv(100)
            peer.close()
            assert not idle_connection_alive(client)        # closed by the server
        finally:
            client.close()
            peer.close()
    assert not idle_connection_alive(None)


def test_a_numeric_address_is_connected_without_resolving_it(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Under gevent every resolution is a hop to its resolver's threads: a numeric address (every
    server of a run) skips it, a name is still resolved."""
    with server() as url:
        port = int(url.rsplit(":", 1)[1])
        asked: list[object] = []
        resolve = socket.getaddrinfo
        monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: asked.append(a[0]) or resolve(*a, **k))
        http = LeanHttp(url)
        assert http.request("GET", "/") == (204, b"")
        assert asked == []
        assert LeanHttp(f"http://localhost:{port}").request("GET", "/") == (204, b"")
        assert asked == ["localhost"]
        assert http.sock is not None and http.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
