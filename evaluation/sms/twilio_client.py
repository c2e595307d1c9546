"""Sending through the official ``twilio`` library, asynchronously. The API base URL is
configuration: production talks to Twilio, tests and benchmarks to a local stand-in with the same
paths and answers. Errors come back as ``SendError`` saying whether a retry can help; no error text
is kept, because Twilio's messages can quote the number."""
from __future__ import annotations

import asyncio
import base64

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

TWILIO_API = "https://api.twilio.com"
UNSUBSCRIBED = 21610  # Twilio: "Attempt to send to unsubscribed recipient"


class SendError(Exception):
    def __init__(self, permanent: bool, code: int | None, status: int | None) -> None:
        super().__init__(f"send failed: status={status} code={code}")
        self.permanent = permanent
        self.code = code
        self.status = status

    @property
    def summary(self) -> str:
        return f"http {self.status or '-'} code {self.code or '-'}"


class _BaseUrlHttpClient(AsyncTwilioHttpClient):
    """Twilio's own async HTTP client, pointed at a configured base URL instead of api.twilio.com."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    async def request(self, method: str, url: str, params: dict[str, object] | None = None,  # type: ignore[override]
                      data: dict[str, object] | None = None, headers: dict[str, str] | None = None,
                      auth: tuple[str, str] | None = None, timeout: float | None = None,
                      allow_redirects: bool = False) -> Response:
        if url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API):]
        if auth is not None:   # aiohttp deprecates the auth= twilio would pass it: the same header, made here
            basic = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers = {**(headers or {}), "Authorization": f"Basic {basic}"}
        return await super().request(method, url, params=params, data=data, headers=headers, auth=None,
                                     timeout=timeout, allow_redirects=allow_redirects)


class TwilioSender:
    def __init__(self, account_sid: str, auth_token: str, from_: str, api_base: str, status_callback: str,
                 timeout_s: float = 10.0) -> None:
        self.http = _BaseUrlHttpClient(api_base, timeout_s)
        # ``Client.messages`` imports twilio's REST API (some 90 modules) on first use: done here, at
        # start, not on the event loop at the first prompt of the morning, where it stalled every
        # request of the process for 0.7-2.5 s.
        self.messages = Client(account_sid, auth_token, http_client=self.http).messages
        self.from_ = from_
        self.status_callback = status_callback

    async def send(self, to: str, body: str) -> tuple[str, str]:
        """Hand one message to Twilio; returns its SID and first status."""
        try:
            msg = await self.messages.create_async(to=to, from_=self.from_, body=body,
                                                          status_callback=self.status_callback)
        except TwilioRestException as exc:
            permanent = 400 <= exc.status < 500 and exc.status != 429
            raise SendError(permanent, exc.code, exc.status) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            raise SendError(False, None, None) from None
        return str(msg.sid), str(msg.status)

    async def close(self) -> None:
        await self.http.close()
