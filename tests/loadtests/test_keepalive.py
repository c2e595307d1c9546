"""The screens generator's keepalive: each second it takes one share of the open sockets (drawn at a
socket's opening), so every socket is looked at once per heartbeat period — a heartbeat frame to
one heard from lately, the end of one silent for ``SILENCE_S`` — without walking every socket every
second."""
from __future__ import annotations

import socket
from types import SimpleNamespace

from loadtests.lean_ws import LeanWebSocket
from loadtests.users.keepalive import HEARTBEAT, HEARTBEAT_S, SILENCE_S, beat, open_by_second


def connected() -> tuple[LeanWebSocket, socket.socket]:
    """A lean client over one end of a socket pair (no handshake: the frames are the test's subject)."""
    ours, peer = socket.socketpair()
    ws = object.__new__(LeanWebSocket)
    ws.sock, ws.fd, ws.buf, ws.cut_for = ours, ours.fileno(), bytearray(), None
    peer.settimeout(2)
    return ws, peer


def test_a_share_heartbeats_the_heard_and_cuts_the_silent() -> None:
    now = 1_000.0
    lively, lively_peer = connected()
    silent, silent_peer = connected()
    share = [SimpleNamespace(ws=lively, heard=now - 10), SimpleNamespace(ws=silent, heard=now - SILENCE_S - 1),
             SimpleNamespace(ws=None, heard=0.0)]   # a user between two connections
    beat(share, now)
    assert lively_peer.recv(64) == HEARTBEAT
    assert silent_peer.recv(64) == b""                 # shut down: its reader raises the reason
    assert isinstance(silent.cut_for, TimeoutError) and f"{SILENCE_S:.0f} s" in str(silent.cut_for)
    for s in (lively.sock, silent.sock, lively_peer, silent_peer):
        s.close()


def test_one_share_a_second_covers_every_socket_once_a_period() -> None:
    assert len(open_by_second) == int(HEARTBEAT_S)
