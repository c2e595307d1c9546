"""A lean websocket client for the load generators: the handshake, server frames parsed out of one
buffer, masked client frames, protocol pings answered. Thousands of screens in one generator process
spend their CPU here, and a general client (websocket-client reads each frame with several socket
calls and Python-level frame objects) costs that generator several times more per message, CPU the
server it measures would otherwise get. ``LeanWebSocket`` is blocking, for Locust's gevent users,
with ``arrived`` for a reader the event loop calls back; ``fanout.py`` uses the same frame
functions under asyncio."""
from __future__ import annotations

import base64
import os
import socket
from urllib.parse import urlsplit

from loadtests.lean_http import connect

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


class Closed(ConnectionError):
    """The server closed the socket (a close frame or the end of the connection)."""


def handshake(host: str, target: str) -> bytes:
    return (f"GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()


def take_frame(buf: bytearray) -> tuple[int, bytes] | None:
    """The first whole (unmasked, server-sent) frame of ``buf`` as (opcode, payload), removed from it;
    None while it is incomplete."""
    if len(buf) < 2:
        return None
    opcode, n, head = buf[0] & 0x0F, buf[1] & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, head = int.from_bytes(buf[2:4], "big"), 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, head = int.from_bytes(buf[2:10], "big"), 10
    if len(buf) < head + n:
        return None
    payload = bytes(buf[head:head + n])
    del buf[:head + n]
    return opcode, payload


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A final, masked client frame (small control or heartbeat messages: under 126 bytes); the mask
    applied as one integer XOR, not byte by byte."""
    n = len(payload)
    if n >= 126:
        raise ValueError("lean client frames are for short messages")
    mask = os.urandom(4)
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")).to_bytes(n, "big")
    return bytes((0x80 | opcode, 0x80 | n)) + mask + masked


class LeanWebSocket:
    """Blocking (gevent-friendly) client: ``recv`` returns each text message as str."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        self.sock = connect((parts.hostname or "127.0.0.1", parts.port or 80), timeout)
        self.fd = self.sock.fileno()   # asked of gevent's socket at every read: 3–4 % of a screens generator's samples
        self.buf = bytearray()
        self.cut_for: Exception | None = None   # why ``cut`` ended it
        try:
            self.sock.sendall(handshake(parts.netloc, f"{parts.path}?{parts.query}"))
            while (end := self.buf.find(b"\r\n\r\n")) < 0:
                self._fill()
            if not self.buf.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(bytes(self.buf[:120]).decode(errors="replace"))
            del self.buf[:end + 4]
        except BaseException:
            self.sock.close()
            raise

    def _fill(self) -> None:
        try:
            data = self.sock.recv(65536)
        except OSError:
            if self.cut_for is not None:
                raise self.cut_for from None
            raise
        self._took(data)

    def _took(self, data: bytes) -> None:
        if not data:
            raise self.cut_for or Closed("connection closed by the server")
        self.buf += data

    def settimeout(self, seconds: float | None) -> None:
        self.sock.settimeout(seconds)

    def cut(self, why: Exception) -> None:
        """End the connection from outside its reader (a watchdog's verdict): the blocked ``recv``
        returns, or the next ``arrived`` comes, and raises ``why``. Thousands of sockets in one
        gevent process then wait without a timer each (a socket timeout arms one per read)."""
        self.cut_for = why
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _message(self) -> str | None:
        """The first whole text message of the buffer, protocol frames before it answered; None while
        there is none."""
        while (frame := take_frame(self.buf)) is not None:
            opcode, payload = frame
            if opcode == TEXT:
                return payload.decode()
            if opcode == PING:
                self.sock.sendall(client_frame(PONG, payload))
            elif opcode == CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                raise Closed(f"closed by the server: {code} {payload[2:].decode(errors='replace')}")
        return None

    def recv(self) -> str:
        while (text := self._message()) is None:
            self._fill()
        return text

    def arrived(self) -> list[str]:
        """Without blocking, for a reader called back when the socket is readable: what one read
        brings (nothing on a wake with nothing there) and what the buffer held, as whole text
        messages; raises as ``recv`` does once the connection has ended. The read is the system
        call itself — gevent's socket (non-blocking underneath) would try, fail and wait."""
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            data = None
        except OSError:
            if self.cut_for is not None:
                raise self.cut_for from None
            raise
        if data is not None:
            self._took(data)
        texts = []
        while (text := self._message()) is not None:
            texts.append(text)
        return texts

    def send(self, text: str) -> None:
        self.sock.sendall(client_frame(TEXT, text.encode()))

    def post(self, frame: bytes) -> None:
        """Send a prepared client frame with one system call, not gevent's ``sendall`` (its checks and
        timeout cost a generator heartbeating thousands of sockets more than the writes). A send
        buffer too full to take it skips it: the server reads nothing of this socket for now, so a
        heartbeat's news would wait anyway. Whatever part of a frame the kernel did not take goes
        the blocking way: a frame is never cut."""
        try:
            n = os.write(self.fd, frame)
        except BlockingIOError:
            return
        if n < len(frame):
            self.sock.sendall(frame[n:])

    def close(self) -> None:
        try:
            self.sock.sendall(client_frame(CLOSE, (1000).to_bytes(2, "big")))
        except OSError:
            pass
        self.fd = -1   # a number the next socket may get: no read or write reaches it by this client
        self.sock.close()
