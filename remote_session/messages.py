"""What a page may send on a session's socket, validated before anything is relayed: the WebRTC
signaling addressed to one peer, its camera and microphone state, a chat line, a heartbeat, and the
clerk's hang-up. Anything else is refused with a reason."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PeerId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)   # "yes" is not a boolean, 1 not a text


class Offer(_Message):
    type: Literal["offer"]
    to: PeerId
    sdp: str = Field(min_length=1, max_length=60_000)


class Answer(_Message):
    type: Literal["answer"]
    to: PeerId
    sdp: str = Field(min_length=1, max_length=60_000)


class Candidate(_Message):
    """RTCIceCandidateInit."""
    candidate: str = Field(max_length=1_000)
    sdpMid: str | None = Field(default=None, max_length=64)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)
    usernameFragment: str | None = Field(default=None, max_length=256)


class Ice(_Message):
    type: Literal["ice"]
    to: PeerId
    candidate: Candidate | None     # None: this side has gathered all its candidates


class Media(_Message):
    """Which of its camera and microphone a side could open: the other side says so rather than
    waiting for a picture that will not come."""
    type: Literal["media"]
    audio: bool
    video: bool


class Chat(_Message):
    type: Literal["chat"]
    text: str = Field(min_length=1, max_length=500)


class Hangup(_Message):
    """The clerk ends the video (the ticket stays at the window)."""
    type: Literal["hangup"]


class Heartbeat(_Message):
    type: Literal["heartbeat"]


Message = Annotated[Offer | Answer | Ice | Media | Chat | Hangup | Heartbeat, Field(discriminator="type")]
MESSAGE = TypeAdapter(Message)
ADDRESSED = (Offer, Answer, Ice)     # go to the one peer named in ``to``
