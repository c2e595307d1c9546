"""Twilio for a load run: the project's stand-in of the Messages API, plus a read-out of what it was
asked to send, so the SMS users know which residents just got a rating prompt."""
from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from evaluation.sms.standin import API, TwilioStandin, standin_env

from .harness import free_port

PUBLIC_BASE_URL = "https://queue.example.sh"   # what Twilio signs: the public URL, not the loopback one


def app(standin: TwilioStandin) -> Starlette:
    async def sent(request: Request) -> JSONResponse:
        after = int(request.query_params.get("after", "0"))
        return JSONResponse({"next": len(standin.messages),
                             "messages": [{"to": m.to, "body": m.body} for m in standin.messages[after:]]})

    return Starlette(routes=[Route(f"/{API}/Accounts/{{sid}}/Messages.json", standin.create_message, methods=["POST"]),
                             Route("/sent", sent)])


@contextlib.contextmanager
def running_standin() -> Iterator[tuple[TwilioStandin, str, dict[str, str]]]:
    """The stand-in on a loopback port in a thread; yields it, its URL and the server's settings for it."""
    standin = TwilioStandin()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app(standin), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True, name="twilio-standin")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Twilio stand-in did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        yield standin, url, {**standin_env(standin, url), "QUEUE_PUBLIC_BASE_URL": PUBLIC_BASE_URL}
    finally:
        server.should_exit = True
        thread.join(10)
