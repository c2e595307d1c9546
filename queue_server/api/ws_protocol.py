"""uvicorn's websockets (sans-I/O) protocol, with a peer gone without a word found by the kernel
rather than by frequent protocol pings.

uvicorn pings every websocket every ``ws_ping_interval`` and cuts one whose pong does not come in
time: for each socket a timer armed, a ping frame out, a pong frame in and parsed, a timer cancelled,
every interval. At 12,500 sockets a process and one ping a minute that was 200 pings a second,
2.5-3.5 % of a sockets process's CPU and a sixth of the objects it kept young. The live sockets
already send the pages an app-level ping after a silence (the hub's sweep, the dashboards'
broadcaster); what the protocol ping added was finding a peer gone without closing (a power cut, a
cable, a NAT that dropped the mapping). Here the kernel does that at no cost to the event loop:
TCP_USER_TIMEOUT cuts a connection whose sent data stays unacknowledged for ``dead_peer_s``, and
keepalive probes (SO_KEEPALIVE) one with nothing to send, within the same time; either way the
transport is lost and the handler ends as on any disconnect. Behind a proxy the kernel's peer is the
proxy, which acknowledges for a client that is gone: for that case protocol pings remain, five
times rarer (``cli.UVICORN_WS``)."""
from __future__ import annotations

import contextlib
import socket
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

DEAD_PEER_S = 60.0     # a peer that acknowledges nothing for this long is cut
KEEPALIVE_PROBES = 3   # probes of an idle connection, spread over the second half of that time


def watch_peer(sock: Any, dead_peer_s: float) -> None:
    """Have the kernel cut ``sock`` once its peer has acknowledged nothing for ``dead_peer_s``: sent
    data unacknowledged that long (TCP_USER_TIMEOUT), or an idle connection whose keepalive probes,
    from half that time on, go unanswered."""
    idle = max(1, int(dead_peer_s / 2))
    with contextlib.suppress(OSError, ValueError, AttributeError):   # ValueError: already gone (uvloop, fd -1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, idle // KEEPALIVE_PROBES))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(dead_peer_s * 1000))


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """Served through uvicorn's ``--ws`` option (``cli.UVICORN_WS``) by every server process."""
    dead_peer_s = DEAD_PEER_S

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        watch_peer(transport.get_extra_info("socket"), self.dead_peer_s)
