"""The generators' HTTP users keep their connections in a process holding thousands of sockets:
an idle pooled connection counts as alive even when its descriptor is above select()'s 1,023."""
from __future__ import annotations

import contextlib
import resource
import socket
from collections.abc import Iterator

from loadtests.users.pooling import idle_connection_alive


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
        client, server = socket.socketpair()
        try:
            assert client.fileno() > 1_023
            assert idle_connection_alive(client)            # idle: reuse it
            server.send(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
            assert not idle_connection_alive(client)        # dirty: do not
            client.recv(100)
            server.close()
            assert not idle_connection_alive(client)        # closed by the server
        finally:
            client.close()
            server.close()
    assert not idle_connection_alive(None)
