"""The generators' lean websocket client against a bare socket server: client frames masked as RFC 6455
says, a server's text frame read, and a connection waiting without a timeout ended from outside
(``cut``, the screens' silence watchdog) raising the watchdog's reason in its reader; and the read a
screen makes when the event loop calls it back (``arrived``): what is there, never waiting."""
from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from loadtests.lean_ws import CLOSE, PING, PONG, TEXT, Closed, LeanWebSocket, client_frame


def unmask(frame: bytes) -> tuple[int, bytes]:
    assert frame[1] & 0x80, "a client frame is masked"
    n, mask = frame[1] & 0x7F, frame[2:6]
    return frame[0] & 0x0F, bytes(b ^ mask[i % 4] for i, b in enumerate(frame[6:6 + n]))


def test_client_frames_are_masked_and_read_back_whole() -> None:
    for n in (0, 1, 3, 4, 5, 20, 125):
        payload = os.urandom(n)
        frame = client_frame(TEXT, payload)
        assert frame[0] == 0x80 | TEXT and len(frame) == 6 + n
        assert unmask(frame) == (TEXT, payload)
    with pytest.raises(ValueError):
        client_frame(TEXT, b"x" * 126)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Answers the handshake, sends one text frame, then says nothing until the client goes."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            while b"\r\n\r\n" not in conn.recv(4096):
                pass
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                         + bytes((0x80 | TEXT, 5)) + b"hello")
            while conn.recv(4096):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{port}/ws?token=t"
    listener.close()
    thread.join(5)


def test_a_socket_without_a_timeout_is_cut_from_outside_with_the_reason(silent_server: str) -> None:
    ws = LeanWebSocket(silent_server, timeout=5)
    assert ws.recv() == "hello"
    ws.settimeout(None)
    raised: list[BaseException] = []

    def read() -> None:
        try:
            ws.recv()
        except BaseException as exc:  # noqa: BLE001 - what the reader saw is the test's subject
            raised.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(0.3)
    assert reader.is_alive(), "with no timeout the reader waits"
    ws.cut(TimeoutError("nothing heard for 45 s"))
    reader.join(5)
    assert len(raised) == 1 and isinstance(raised[0], TimeoutError) and "45 s" in str(raised[0])
    ws.close()


def server_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    head = bytes((0x80 | opcode, n)) if n < 126 else bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big")
    return head + payload


def readable_client() -> tuple[LeanWebSocket, socket.socket]:
    """A lean client over a socket pair, non-blocking underneath as a gevent socket is."""
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    ws = object.__new__(LeanWebSocket)
    ws.sock, ws.fd, ws.buf, ws.cut_for = ours, ours.fileno(), bytearray(), None
    peer.settimeout(2)
    return ws, peer


def test_what_arrived_is_taken_whole_without_waiting() -> None:
    ws, peer = readable_client()
    assert ws.arrived() == []                          # a wake with nothing there: no wait, no error
    big, last = b"x" * 300, server_frame(TEXT, b"three")
    peer.sendall(server_frame(TEXT, b"one") + server_frame(PING, b"p") + server_frame(TEXT, big) + last[:4])
    assert ws.arrived() == ["one", big.decode()]       # the third still on its way
    assert peer.recv(64)[:1] == bytes((0x80 | PONG,)), "a ping is answered on the way"
    peer.sendall(last[4:])
    assert ws.arrived() == ["three"]
    peer.sendall(server_frame(CLOSE, (1001).to_bytes(2, "big") + b"going"))
    with pytest.raises(Closed, match="1001 going"):
        ws.arrived()
    ws.sock.close()
    peer.close()


def test_an_ended_connection_raises_its_reason_when_read() -> None:
    ws, peer = readable_client()
    peer.close()
    with pytest.raises(Closed, match="closed by the server"):
        ws.arrived()
    ws.sock.close()
    ws, peer = readable_client()
    ws.cut(TimeoutError("nothing heard for 45 s"))
    with pytest.raises(TimeoutError, match="45 s"):
        ws.arrived()
    ws.sock.close()
    peer.close()


def test_a_prepared_frame_is_posted_whole_or_skipped_on_a_full_buffer() -> None:
    ws, peer = readable_client()
    frame = client_frame(TEXT, b'{"type":"heartbeat"}')
    ws.post(frame)
    assert peer.recv(64) == frame
    for size in (4096, 1):                             # the send buffer full to the last byte
        with contextlib.suppress(BlockingIOError):
            while True:
                ws.sock.send(b"x" * size)
    ws.post(frame)                                     # neither waits nor raises: skipped
    ws.sock.close()
    peer.close()
