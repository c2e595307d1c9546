"""Who may do what to the queue. One table of rules, so the HTTP handlers, the staff console and the
docs (docs/accounts.md) agree:

- a **clerk** (token role ``staff``) acts only from their own window: that window's open, pause and
  close, calling to it, and the tickets at it or waiting in a line it serves (the engine checks the
  ticket's place in the same script that moves it, so a ticket transferred away meanwhile is refused);
  a clerk's token without a window touches no window and no ticket;
- a **center manager** acts anywhere in their center;
- the **district admin** acts everywhere;
- an **auditor** reads (reports, exports, the audit log) and never acts on the queue; nor do devices
  and the service point assistant, except where a handler says so (a kiosk issues tickets).
"""
from __future__ import annotations

from dataclasses import dataclass

# Roles a person's account or token may have; "staff" is the clerk's token role.
ROLES = ("admin", "manager", "staff", "auditor")
ACCOUNT_ROLES = {"clerk": "staff", "manager": "manager", "admin": "admin", "auditor": "auditor"}

WINDOW_ACTIONS = frozenset({"open window", "pause window", "close window", "call next"})
TICKET_ACTIONS = frozenset({"recall", "start", "finish", "no-show", "transfer", "pause", "resume", "cancel"})


@dataclass(frozen=True)
class Actor:
    role: str
    center: str | None
    window: str | None


def refusal(actor: Actor, action: str, center: str, window: str | None = None) -> str | None:
    """Why ``actor`` may not do ``action`` at ``center`` (on ``window`` for window actions), or None
    when it may. For ticket actions a clerk is let through here with their window; the engine then
    refuses a ticket that is neither at that window nor waiting in a line it serves."""
    if action not in WINDOW_ACTIONS and action not in TICKET_ACTIONS:
        raise ValueError(f"unknown queue action {action!r}")
    if actor.role == "admin":
        return None
    if actor.role not in ("manager", "staff"):
        return f"a {actor.role} token may not act on the queue"
    if actor.center != center:
        return "the token belongs to another center"
    if actor.role == "manager":
        return None
    if actor.window is None:
        return "a clerk's token without a window may not act on windows or tickets"
    if action in WINDOW_ACTIONS and window != actor.window:
        return f"the token belongs to window {actor.window}"
    return None
