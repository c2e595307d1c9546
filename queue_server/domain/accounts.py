"""Rules of people's accounts: what a role's login leads to, and when repeated failures lock one."""
from __future__ import annotations

from urllib.parse import quote

from .access import ACCOUNT_ROLES

USERNAME = r"^[a-z0-9_.-]{2,64}$"
PASSWORD_MIN, PASSWORD_MAX = 10, 256


def token_role(account_role: str) -> str:
    """The token role a login of ``account_role`` carries (a clerk's is ``staff``)."""
    return ACCOUNT_ROLES[account_role]


def home(account_role: str, center: str | None, window: str | None) -> str | None:
    """The page a login leads to: a clerk to their window's staff console, a manager and an auditor to
    the dashboard, the admin to the admin page; None for a clerk without a window (no console to open)."""
    if account_role == "clerk":
        return f"/staff/{quote(center or '')}/{quote(window)}" if window else None
    if account_role == "admin":
        return "/admin"
    return "/dashboard"


def locks_now(failures: int, max_failures: int) -> bool:
    """Whether this many wrong passwords in a row lock the account."""
    return failures >= max_failures


def device_page(kind: str, center: str, window: str | None, point: str | None) -> str | None:
    """The page an enrolled device opens (with its token): what its kind shows where it stands; None
    for a printer, which opens no page."""
    c = quote(center)
    if kind in ("kiosk", "all_in_one"):
        return f"/kiosk/{c}" + (f"?service_point={quote(point)}" if point else "")
    if kind == "hall_display":
        return f"/display/{c}"
    if kind == "window_screen":
        return f"/point/{c}-{quote(point)}" if point else f"/screen/{c}/{quote(window or '')}"
    if kind == "tablet":
        return f"/tablet/{c}/{quote(window or '')}"
    if kind == "dashboard":
        return f"/dashboard?center={c}"
    return None
