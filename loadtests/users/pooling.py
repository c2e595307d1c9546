"""Keep-alive for Locust's HTTP users in a process holding thousands of sockets. geventhttpclient
checks an idle pooled connection with select(), which refuses descriptors above 1,023; a worker
holding 6,000 screens has every HTTP connection above that, so each check failed, the connection was
closed and a new one opened (with its name resolved in a thread) for every single request: a third
of the generators' CPU, and a connection set-up on the server per request. poll() has no such limit."""
from __future__ import annotations

import select as _select

import gevent.socket
from gevent.monkey import get_original
from geventhttpclient.connectionpool import ConnectionPool

_poll = get_original("select", "poll")
_READABLE = _select.POLLIN | _select.POLLPRI | _select.POLLERR | _select.POLLHUP


def idle_connection_alive(sock: gevent.socket.socket | None) -> bool:
    """An idle keep-alive connection is alive while it has nothing to read: data or a FIN there
    means the server closed it (or left it dirty)."""
    if sock is None or sock.fileno() < 0:
        return False
    poller = _poll()
    poller.register(sock.fileno(), _READABLE)
    return not poller.poll(0)


def keep_connections_alive() -> None:
    ConnectionPool._is_socket_alive = lambda self, sock: idle_connection_alive(sock)  # type: ignore[method-assign]
