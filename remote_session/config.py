"""What a video session may use and say, from the environment (``QUEUE_RTC_*``): the STUN/TURN
servers handed to the pages (none by default: on one network the browsers reach each other
directly) and the limits on what a page may send."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class IceServer(BaseModel):
    """One entry of RTCConfiguration.iceServers, as the browser takes it."""
    model_config = ConfigDict(extra="forbid")
    urls: str | list[str] = Field(min_length=1)
    username: str | None = None
    credential: str | None = None


ICE_SERVERS = TypeAdapter(list[IceServer])


@dataclass(frozen=True)
class SessionConfig:
    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    max_message_bytes: int = 65_536   # an SDP offer of Chromium with audio, video and all its codecs is 15-25 KB
    per_minute: int = 600             # messages a page may send, sustained
    burst: int = 120                  # ... and at once (the ICE candidates of a fresh connection)
    abuse_limit: int = 20             # invalid or refused messages before the socket is closed (1008)
    ttl_s: int = 12 * 3600            # a session nobody closed is forgotten after this

    @classmethod
    def from_env(cls) -> "SessionConfig":
        """``QUEUE_RTC_ICE_SERVERS`` is a JSON list such as ``[{"urls": "stun:stun.example.org:3478"}]``;
        a malformed one stops the start with a clear message rather than leaving pages without video."""
        d = cls()
        raw = os.environ.get("QUEUE_RTC_ICE_SERVERS", "").strip()
        servers = [s.model_dump(exclude_none=True) for s in ICE_SERVERS.validate_json(raw)] if raw else []
        return cls(ice_servers=servers,
                   max_message_bytes=int(os.environ.get("QUEUE_RTC_MAX_MESSAGE_BYTES", d.max_message_bytes)),
                   per_minute=int(os.environ.get("QUEUE_RTC_PER_MINUTE", d.per_minute)),
                   burst=int(os.environ.get("QUEUE_RTC_BURST", d.burst)))
