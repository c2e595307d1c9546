"""A lean HTTP/1.1 client for the load generators' desk users, kiosks, clerks, residents and tablets:
one keep-alive connection per user, the request written as one buffer, the answer read by its
``Content-Length``. Locust's FastHttpSession (geventhttpclient) spent about 500 µs of generator CPU
per request in the half profile — as much as the server it measured spent answering it, on the same
two cores; this costs a fraction of that. Blocking sockets, which gevent makes cooperative, as
``lean_ws.py`` does for the screens."""
from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

from gevent.monkey import get_original

_poll = get_original("select", "poll")   # select() refuses descriptors above 1,023; a worker holds thousands
_READABLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP
IDLE_S = 4.0   # under uvicorn's 5 s keep-alive: a connection the server may be closing this instant is not reused


def connect(address: tuple[str, int], timeout: float) -> socket.socket:
    """A connection to ``address`` with Nagle off. A numeric address is connected at once: gevent's
    ``create_connection`` sends every address, numeric or not, through its resolver's thread pool — a
    hop to a thread and back for each connection, a tenth of the desks' generator's own time at half
    (py-spy), where residents and tablets open connections all the time."""
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    try:
        socket.inet_pton(family, address[0])
    except OSError:   # a name: resolved as before
        sock = socket.create_connection(address, timeout=timeout)
    else:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except BaseException:
            sock.close()
            raise
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def idle_connection_alive(sock: socket.socket | None) -> bool:
    """An idle keep-alive connection is alive while it has nothing to read: data or a FIN there
    means the server closed it (or left it dirty)."""
    if sock is None or sock.fileno() < 0:
        return False
    poller = _poll()
    poller.register(sock.fileno(), _READABLE)
    return not poller.poll(0)


class LeanHttp:
    """One keep-alive connection to ``base_url``; ``request`` returns (status, body). A connection the
    server closed while idle is opened afresh before the next request, and so is one idle for
    ``idle_s``, before the server's keep-alive timeout: a request written just as the server closes
    the connection would be reset (a resident's status page, read every 5 s, met it in 1 of 50)."""

    def __init__(self, base_url: str, timeout: float = 10.0, idle_s: float = IDLE_S) -> None:
        parts = urlsplit(base_url)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.host = parts.netloc
        self.timeout, self.idle_s = timeout, idle_s
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.last = 0.0

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
                ) -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        if headers:
            head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        message = head.encode() + b"\r\n" + body
        if time.monotonic() - self.last >= self.idle_s or not idle_connection_alive(self.sock):
            self._connect()
        try:
            assert self.sock is not None
            self.sock.sendall(message)
            answer = self._answer()
        except BaseException:
            self.close()
            raise
        self.last = time.monotonic()
        return answer

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buf.clear()

    def _connect(self) -> None:
        self.close()
        self.sock = connect(self.address, self.timeout)


    def _fill(self) -> None:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by the server")
        self.buf += data

    def _answer(self) -> tuple[int, bytes]:
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        lines = bytes(self.buf[:end]).split(b"\r\n")
        del self.buf[:end + 4]
        status = int(lines[0].split(b" ", 2)[1])
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = self._chunked()
        else:
            size = int(fields.get(b"content-length", b"0"))
            while len(self.buf) < size:
                self._fill()
            body = bytes(self.buf[:size])
            del self.buf[:size]
        if fields.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, body

    def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            while (end := self.buf.find(b"\r\n")) < 0:
                self._fill()
            size = int(bytes(self.buf[:end]).split(b";")[0], 16)
            del self.buf[:end + 2]
            while len(self.buf) < size + 2:
                self._fill()
            body += self.buf[:size]
            del self.buf[:size + 2]
            if size == 0:
                return bytes(body)


class LeanPool:
    """Keep-alive connections to one server shared by many users of a process (the tablets' ratings:
    each real tablet has its own connection, so a request never waits for another's)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url, self.timeout = base_url, timeout
        self.idle: list[LeanHttp] = []

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
                ) -> tuple[int, bytes]:
        conn = self.idle.pop() if self.idle else LeanHttp(self.base_url, self.timeout)
        answer = conn.request(method, path, body, headers)   # a failed connection is closed and dropped
        self.idle.append(conn)
        return answer
