"""Who sees which ops figures: the district admin and a district auditor every center (or one, if
they ask); a center's manager, auditor and dashboard devices only that center. One rule for HTTP and
the websocket."""
from __future__ import annotations

from collections.abc import Container

from ..record.people import Principal


class ScopeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def ops_scope(who: Principal, asked: str | None, centers: Container[str], devices: bool = True) -> str | None:
    """The center ``who`` sees (None: the whole district). ``asked`` narrows it to one center;
    ``devices`` says whether dashboard devices may see this at all (reports and exports: no)."""
    if asked is not None and asked not in centers:
        raise ScopeError(404, f"unknown center {asked!r}")
    if who.role == "admin" or (who.role == "auditor" and who.center is None):
        return asked
    allowed = who.role in ("manager", "auditor") or (devices and who.role == "device" and who.device_kind == "dashboard")
    if not allowed:
        raise ScopeError(403, f"a {who.device_kind or who.role} token may not see the ops figures")
    if asked is not None and asked != who.center:
        raise ScopeError(403, "the token belongs to another center")
    return who.center
