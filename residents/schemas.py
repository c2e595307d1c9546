"""What residents send and get back when they take a ticket from home."""
from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from queue_server.api.schemas import Body, Code, Phone, TicketPosition
from queue_server.domain.residents import CODE_DIGITS

SmsCode = Annotated[str, StringConstraints(pattern=rf"^\d{{{CODE_DIGITS}}}$")]
StatusSecret = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")]


class CodeRequest(Body):
    center: Code
    phone: Phone = Field(description="mainland mobile number the code is sent to; never shown in full")


class CodeSent(BaseModel):
    phone_masked: str
    expires_in_s: int = Field(description="the code works this long")
    resend_after_s: int = Field(description="no new code for this number before then")


class TakeRemoteTicket(Body):
    center: Code
    matter: Code
    phone: Phone
    code: SmsCode = Field(description=f"the {CODE_DIGITS}-digit code sent to the phone")


class RemoteTicket(TicketPosition):
    status_token: str = Field(description="the secret that lets the resident cancel from the status page; shown once")
    status_url: str = Field(description="the ticket's status page, carrying the status token in its fragment")


class StatusToken(Body):
    token: StatusSecret = Field(description="the ticket's status token (from the status page's link)")


class ResidentNotices(BaseModel):
    center: str
    near_ahead: int = Field(description="the \"your turn is near\" SMS goes out when this many or fewer are ahead")
    check_in_grace_s: int = Field(description="a called remote ticket not checked in by then is a no-show")
    code_ttl_s: int


class CheckIn(Body):
    ticket: Annotated[str, StringConstraints(min_length=1, max_length=300)] = Field(
        description="the ticket's number as printed (A005), its id, or its status link (the QR)")
