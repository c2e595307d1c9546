"""A websocket client that completes the handshake and then never reads: what a frozen screen or
a dead network looks like from the server."""
from __future__ import annotations

import base64
import os
import socket
from urllib.parse import urlsplit


def frozen_client(url: str) -> socket.socket:
    """Open ``url`` (ws://host:port/path?query) with a tiny receive buffer and never read after the
    handshake; the caller closes the socket."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect((parts.hostname, parts.port))
    key = base64.b64encode(os.urandom(16)).decode()
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    sock.sendall((f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: leave everything after the headers unread
    assert head.startswith(b"HTTP/1.1 101"), head[:200]
    return sock


def drained_to_end(sock: socket.socket) -> bool:
    """Read what is buffered; True once the server has ended the connection (FIN or reset)."""
    sock.settimeout(5)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    return True
