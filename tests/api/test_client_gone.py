"""A client that hangs up before its request body arrives (it gave up waiting, as load generators and
impatient kiosks do) is not a server error: nothing is logged, nothing is written."""
from __future__ import annotations

import logging

import pytest

from queue_server.config import Settings
from tests.support import AUTH, running_app


async def test_a_client_gone_mid_request_is_no_error(settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    async with running_app(settings) as (app, client):
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.disconnect"}

        async def send(message: dict) -> None:
            sent.append(message)

        headers = [(b"authorization", AUTH["Authorization"].encode()), (b"content-type", b"application/json")]
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": "/api/v1/centers/jingansi/tickets", "raw_path": b"/api/v1/centers/jingansi/tickets",
                 "query_string": b"", "headers": headers, "client": ("127.0.0.1", 1), "server": ("test", 80),
                 "root_path": "", "app": app}
        with caplog.at_level(logging.ERROR):
            await app(scope, receive, send)
        assert sent[0]["status"] == 499
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        queue = (await client.get("/api/v1/centers/jingansi/queue")).json()
        assert sum(queue["waiting"].values()) == 0
