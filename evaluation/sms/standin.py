"""A local stand-in of Twilio's Messages API for tests, benchmarks and the demo: the same path
(``/2010-04-01/Accounts/{sid}/Messages.json``), HTTP basic auth and JSON answers, including Twilio's
error shape for an unsubscribed recipient. It can be told to fail the next requests (retry tests)."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

API = "2010-04-01"


@dataclass
class StandinMessage:
    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None


@dataclass
class TwilioStandin:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "standin-auth-token"
    messages: list[StandinMessage] = field(default_factory=list)
    unsubscribed: set[str] = field(default_factory=set)
    failures: list[int] = field(default_factory=list)  # statuses to answer the next requests with
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self.failures.extend(statuses)

    def to(self, number: str) -> list[StandinMessage]:
        return [m for m in self.messages if m.to == number]

    def _error(self, status: int, code: int, message: str) -> JSONResponse:
        return JSONResponse({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                             "status": status}, status_code=status)

    async def create_message(self, request: Request) -> JSONResponse:
        sid = request.path_params["sid"]
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if sid != self.account_sid or request.headers.get("authorization") != f"Basic {expected}":
            return self._error(401, 20003, "Authenticate")
        with self._lock:
            failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            return self._error(failure, 20500 if failure >= 500 else 20429, "Service unavailable (stand-in)")
        form = await request.form()
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        if not to or not body:
            return self._error(400, 21604 if not to else 21602, "A 'To' phone number and a 'Body' are required.")
        if to in self.unsubscribed:
            return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
        msg = StandinMessage("SM" + secrets.token_hex(16), to, str(form.get("From", "")), body,
                             str(form["StatusCallback"]) if "StatusCallback" in form else None)
        with self._lock:
            self.messages.append(msg)
        now = formatdate(usegmt=True)
        return JSONResponse(status_code=201, content={
            "account_sid": self.account_sid, "api_version": API, "body": body, "date_created": now, "date_sent": None,
            "date_updated": now, "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": msg.from_, "messaging_service_sid": None, "num_media": "0", "num_segments": "1", "price": None,
            "price_unit": "USD", "sid": msg.sid, "status": "queued", "subresource_uris": {
                "media": f"/{API}/Accounts/{self.account_sid}/Messages/{msg.sid}/Media.json"},
            "to": to, "uri": f"/{API}/Accounts/{self.account_sid}/Messages/{msg.sid}.json"})

    async def list_messages(self, request: Request) -> JSONResponse:
        """The first (and only) page of Twilio's message list: enough to count what was sent. The
        stand-in's own ``?after=N`` gives only the messages from the N-th on, and ``next`` the N to
        ask for next time: a load run's SMS users follow the prompts as they go out."""
        after = request.query_params.get("after", "0")
        start = int(after) if after.isdigit() else 0
        with self._lock:
            sent = [{"sid": m.sid, "to": m.to, "from": m.from_, "body": m.body, "status": "queued"}
                    for m in self.messages[start:]]
        uri = f"/{API}/Accounts/{self.account_sid}/Messages.json"
        return JSONResponse({"messages": sent, "end": max(0, start + len(sent) - 1), "first_page_uri": uri,
                             "next_page_uri": None, "page": 0, "page_size": len(sent), "previous_page_uri": None,
                             "start": start, "uri": uri, "next": start + len(sent)})

    def app(self) -> Starlette:
        path = f"/{API}/Accounts/{{sid}}/Messages.json"
        return Starlette(routes=[Route(path, self.create_message, methods=["POST"]),
                                 Route(path, self.list_messages, methods=["GET"])])

    @contextlib.contextmanager
    def serve(self) -> Iterator[str]:
        """Run on a free loopback port in a thread; yields the base URL."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False, lifespan="off"))
        thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True, name="twilio-standin")
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the Twilio stand-in did not start")
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(10)


def standin_app() -> Starlette:
    """For ``uvicorn evaluation.sms.standin:standin_app --factory`` (benchmarks, the demo)."""
    return TwilioStandin().app()


def standin_env(standin: TwilioStandin, base_url: str, from_: str = "+8610690000") -> dict[str, Any]:
    """The settings that point the server's Twilio client at this stand-in."""
    return {"TWILIO_ACCOUNT_SID": standin.account_sid, "TWILIO_AUTH_TOKEN": standin.auth_token,
            "TWILIO_FROM": from_, "TWILIO_API_BASE_URL": base_url}
