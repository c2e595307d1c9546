"""The accounts API: log in and out, who am I; accounts (create, list, new password, unlock, disable);
every token's list, rotation and revocation; device enrollment by one-time code.

Logins are bearer tokens the page keeps, never cookies: a browser sends no credential by itself, so
a forged cross-site request carries none (no CSRF to defend against)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints
from starlette.requests import Request
from starlette.responses import Response

from ..api.auth import ADMIN, bearer, principal, require
from ..api.endpoints import Endpoints, json, read_body
from ..api.problems import Problem
from ..api.schemas import Body, Code
from ..devices import store as devices
from ..devices.watch import forget_here, revoked
from ..domain.accounts import PASSWORD_MAX, PASSWORD_MIN, USERNAME, device_page, home
from ..record.people import Principal, find_staff, token_hash
from . import store
from .passwords import hash_password, needs_rehash, verify

api = Endpoints("accounts")

Username = Annotated[str, StringConstraints(pattern=USERNAME)]
Password = Annotated[str, StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)]
AccountRole = Literal["clerk", "manager", "admin", "auditor"]
TokenId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class Login(Body):
    username: Username
    password: Annotated[str, StringConstraints(min_length=1, max_length=PASSWORD_MAX)]


class LoggedIn(BaseModel):
    token: str = Field(description="the login token, shown once; send it as Authorization: Bearer")
    expires_at: str
    user: str
    display_name: str
    role: str = Field(description="the account's role: clerk, manager, admin or auditor")
    center: str | None
    window: str | None
    home: str | None = Field(description="the page this login leads to (the clerk's staff console, the dashboard,"
                                         " the admin page); none for a clerk without a window")


class Me(BaseModel):
    role: str = Field(description="the token's role")
    center: str | None
    window: str | None
    user: str | None
    label: str
    expires_at: float | None = Field(description="seconds since the epoch; none for the district admin token")


class NewUser(Body):
    username: Username
    display_name: Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
    role: AccountRole
    center: Code | None = Field(default=None, description="required but for admins and district auditors")
    window: Code | None = Field(default=None, description="a clerk's window: their login opens its staff console")
    staff_id: Code | None = None
    password: Password


class User(BaseModel):
    username: str
    display_name: str
    role: str
    center: str | None
    window: str | None
    staff_id: str | None
    failures: int = Field(description="wrong passwords in a row")
    locked_until: str | None
    disabled: bool
    created_at: str


class UserList(BaseModel):
    users: list[User]


class NewPassword(Body):
    password: Password


class TokenInfo(BaseModel):
    id: str = Field(description="the SHA-256 of the token: names it, never works as one")
    role: str
    center: str | None
    window: str | None
    staff_id: str | None
    device_kind: str | None
    label: str
    point: str | None
    device: str | None
    user: str | None
    created_at: str
    expires_at: str


class TokenList(BaseModel):
    tokens: list[TokenInfo]


class TokenRotated(BaseModel):
    id: str
    token: str = Field(description="the new token, shown once; the old one no longer works anywhere")


class EnrollmentCode(BaseModel):
    device: str
    code: str = Field(description="8 digits, single use: type it on the device's enrollment page")
    expires_at: str


class Enroll(Body):
    code: Annotated[str, StringConstraints(pattern=r"^\d{8}$")]


class Enrolled(BaseModel):
    device: str
    kind: str
    center: str
    window: str | None
    point: str | None
    token: str = Field(description="the device's token, shown once; its earlier token no longer works")
    page: str | None = Field(description="the page the device opens (none for a printer)")


def _bad(field: str, message: str) -> Problem:
    return Problem(422, "Invalid request", f"{field}: {message}", errors=[{"field": field, "message": message}])


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


async def _end(request: Request, hashes: list[str]) -> None:
    """These tokens stop working on every instance within a second, their sockets closed (4401)."""
    for digest in hashes:
        forget_here(request.app, digest)
    await revoked(request.app, hashes)


async def _who(request: Request) -> Principal:
    who = await principal(request)
    assert who is not None
    return who


def _may_manage(who: Principal, center: str | None, role: str) -> None:
    """Admins manage every account and token; a manager those of their center below a manager."""
    if who.role == "admin":
        return
    if who.role != "manager" or center is None or center != who.center or role in ("manager", "admin", "auditor"):
        raise Problem(403, "Forbidden", "only the admin, or a center's manager for its clerks, staff and devices")


@api("POST", "/api/v1/login", "Log in with a username and password: a login token of the account's role",
     body=Login, response=LoggedIn, auth=False,
     responses={401: "wrong username or password", 423: "locked after repeated failures: Retry-After says how long",
                429: "too many attempts from this address"})
async def login(request: Request) -> Response:
    accounts = request.app.state.accounts
    accounts.logins.check(f"login:{_address(request)}")
    body = await read_body(request, Login)
    pool = request.app.state.pool
    user = await store.find_user(pool, body.username)
    if user is not None and user["locked"]:
        raise Problem(423, "Locked", "the account is locked after repeated wrong passwords; try later or ask a manager",
                      retry_after_s=max(1, user["locked_s"]))
    stored = user["password_hash"] if user is not None and user["disabled_at"] is None else None
    if not await verify(stored, body.password):
        if stored is not None and await store.failed_login(pool, user["id"], accounts.max_failures, accounts.lock_s):
            raise Problem(423, "Locked", "the account is now locked after repeated wrong passwords",
                          retry_after_s=accounts.lock_s)
        raise Problem(401, "Unauthorized", "wrong username or password")
    assert user is not None
    rehash = await hash_password(body.password) if needs_rehash(user["password_hash"]) else None
    made = await store.logged_in(pool, user, request.app.state.settings.login_token_ttl_s, rehash)
    if made is None:
        raise Problem(423, "Locked", "the account was locked meanwhile", retry_after_s=accounts.lock_s)
    token, expires = made
    return json({"token": token, "expires_at": expires.isoformat(), "user": user["username"],
                 "display_name": user["display_name"], "role": user["role"], "center": user["center"],
                 "window": user["window_code"], "home": home(user["role"], user["center"], user["window_code"])})


@api("POST", "/api/v1/logout", "Log out: the login token stops working on every instance", status=204,
     responses={409: "not a login token (devices and tokens made for a person are revoked, not logged out)"})
async def logout(request: Request) -> Response:
    who = await _who(request)
    if who.user is None:
        raise Problem(409, "Conflict", "only a login token logs out")
    await _end(request, await store.revoke_token(request.app.state.pool, token_hash(bearer(request) or "")))
    return Response(status_code=204)


@api("GET", "/api/v1/me", "Who the token is: role, center, window, account, expiry", response=Me)
async def me(request: Request) -> Response:
    who = await _who(request)
    return json({"role": who.role, "center": who.center, "window": who.window, "user": who.user,
                 "label": "district admin" if who is ADMIN else who.label, "expires_at": who.expires_at})


@api("POST", "/api/v1/users", "Create an account (admin: any; a manager: clerks of their center)", body=NewUser,
     response=User, status=201, responses={403: "not allowed to create this account", 409: "the username is taken",
                                           422: "unknown center, window or staff; a place the role does not have"})
async def add_user(request: Request) -> Response:
    who = await _who(request)
    body = await read_body(request, NewUser)
    _may_manage(who, body.center, body.role)
    catalog = request.app.state.engine.catalog
    if body.role in ("clerk", "manager") and body.center is None:
        raise _bad("center", f"required for a {body.role}")
    if body.role == "admin" and body.center is not None:
        raise _bad("center", "the district admin belongs to no center")
    if body.center is not None and body.center not in catalog.centers:
        raise _bad("center", "unknown")
    if body.window is not None and (body.role != "clerk" or body.window not in catalog.centers[str(body.center)].windows):
        raise _bad("window", "only a clerk has a window, one of their center's")
    if body.staff_id is not None:
        person = await find_staff(request.app.state.pool, body.staff_id)
        if person is None or person["center"] != body.center:
            raise _bad("staff_id", "unknown at this center")
    made = await store.add_user(request.app.state.pool, body.username, body.display_name, body.role, body.center,
                                body.window, body.staff_id, await hash_password(body.password))
    if made is None:
        raise Problem(409, "Conflict", f"the username {body.username!r} is taken")
    return json(made, 201)


@api("GET", "/api/v1/users", "Accounts (admin and district auditors: all, or `?center=`; a manager or a center's"
     " auditor: their center's)", response=UserList, responses={403: "not an admin, manager or auditor"},
     query={"center": "only this center's accounts"})
async def list_users(request: Request) -> Response:
    who = await _who(request)
    center = request.query_params.get("center") or None
    if who.role not in ("admin", "manager", "auditor"):
        raise Problem(403, "Forbidden", f"a {who.role} token may not list accounts")
    if who.center is not None:
        if center not in (None, who.center):
            raise Problem(403, "Forbidden", "the token belongs to another center")
        center = who.center
    return json({"users": await store.users(request.app.state.pool, center)})


async def _account(request: Request) -> dict[str, Any]:
    """The account named in the path, once ``who`` may manage it (404 only to those who may see it)."""
    who = await _who(request)
    username = request.path_params["username"]
    row = await store.find_user(request.app.state.pool, username)
    if row is None:
        if who.role not in ("admin", "manager"):
            raise Problem(403, "Forbidden", f"a {who.role} token may not manage accounts")
        raise Problem(404, "Not found", f"no account {username!r}")
    _may_manage(who, row["center"], row["role"])
    return dict(row)


@api("POST", "/api/v1/users/{username}/password", "Set an account's password: it is unlocked and its logins end",
     body=NewPassword, status=204, responses={403: "not allowed to manage this account", 404: "no such account"})
async def set_password(request: Request) -> Response:
    user = await _account(request)
    body = await read_body(request, NewPassword)
    ended = await store.set_password(request.app.state.pool, user["username"], await hash_password(body.password))
    await _end(request, ended or [])
    return Response(status_code=204)


@api("POST", "/api/v1/users/{username}/unlock", "Unlock an account locked after repeated wrong passwords",
     status=204, responses={403: "not allowed to manage this account", 404: "no such account"})
async def unlock(request: Request) -> Response:
    user = await _account(request)
    await store.unlock(request.app.state.pool, user["username"])
    return Response(status_code=204)


@api("POST", "/api/v1/users/{username}/disable", "Disable an account: it no longer logs in and its logins end",
     status=204, responses={403: "not allowed to manage this account", 404: "no such account"})
async def disable(request: Request) -> Response:
    user = await _account(request)
    await _end(request, await store.disable(request.app.state.pool, user["username"]) or [])
    return Response(status_code=204)


@api("GET", "/api/v1/tokens", "Every valid token (admin: all, or `?center=`; a manager: their center's), never"
     " a secret", response=TokenList, responses={403: "only admins and managers"},
     query={"center": "only this center's tokens"})
async def list_tokens(request: Request) -> Response:
    who = await _who(request)
    center = request.query_params.get("center") or None
    if who.role == "manager":
        if center not in (None, who.center):
            raise Problem(403, "Forbidden", "the token belongs to another center")
        center = who.center
    elif who.role != "admin":
        raise Problem(403, "Forbidden", f"a {who.role} token may not list tokens")
    return json({"tokens": await store.tokens(request.app.state.pool, center)})


async def _token(request: Request) -> Any:
    who = await _who(request)
    token_id = request.path_params["id"]
    row = await store.find_token_row(request.app.state.pool, token_id) if len(token_id) == 64 else None
    if row is None:
        if who.role not in ("admin", "manager"):
            raise Problem(403, "Forbidden", f"a {who.role} token may not manage tokens")
        raise Problem(404, "Not found", "no valid token with this id")
    _may_manage(who, row["center"], "clerk" if row["role"] == "staff" else row["role"])
    return row


@api("POST", "/api/v1/tokens/{id}/revoke", "Revoke a token: refused and its sockets closed (4401) on every instance"
     " within a second", status=204, responses={403: "not allowed to manage this token", 404: "no valid token with this id"})
async def revoke_token(request: Request) -> Response:
    row = await _token(request)
    await _end(request, await store.revoke_token(request.app.state.pool, row["token_hash"]))
    return Response(status_code=204)


@api("POST", "/api/v1/tokens/{id}/rotate", "A new token in place of this one (same role and place, a fresh lifetime);"
     " the old one stops working on every instance", response=TokenRotated,
     responses={403: "not allowed to manage this token", 404: "no valid token with this id",
                409: "rotated or revoked meanwhile"})
async def rotate_token(request: Request) -> Response:
    row = await _token(request)
    made = await store.rotate_token(request.app.state.pool, row)
    if made is None:
        raise Problem(409, "Conflict", "the token was rotated or revoked meanwhile")
    token, old = made
    await _end(request, old)
    return json({"id": token_hash(token), "token": token})


@api("POST", "/api/v1/devices/{device}/enrollment", "A one-time code that enrolls the registered device: typed on"
     " the device's enrollment page, it hands the device its token", response=EnrollmentCode, status=201,
     responses={403: "only admins and the center's manager", 404: "unknown device"})
async def enrollment_code(request: Request) -> Response:
    who = await _who(request)
    device = await devices.find(request.app.state.pool, request.path_params["device"])
    if device is None:
        if who.role not in ("admin", "manager"):
            raise Problem(403, "Forbidden", f"a {who.role} token may not enroll devices")
        raise Problem(404, "Not found", f"no device {request.path_params['device']!r}")
    require(who, device["center"], {"manager"})
    code, expires = await store.new_enrollment_code(request.app.state.pool, device["id"], who.user or who.label or who.role,
                                                    request.app.state.settings.enrollment_code_ttl_s)
    return json({"device": device["id"], "code": code, "expires_at": expires.isoformat()}, 201)


@api("POST", "/api/v1/enroll", "A device enters its one-time code and gets its token (its earlier one ends)",
     body=Enroll, response=Enrolled, auth=False,
     responses={401: "no such code, used already, or expired", 429: "too many attempts from this address"})
async def enroll(request: Request) -> Response:
    request.app.state.accounts.enrollments.check(f"enroll:{_address(request)}")
    body = await read_body(request, Enroll)
    done = await store.enroll(request.app.state.pool, body.code)
    if done is None:
        raise Problem(401, "Unauthorized", "the code is not valid: used, expired, or mistyped")
    device, token, old = done
    await _end(request, old)
    page = device_page(device["kind"], device["center"], device["window_code"], device["point"])
    return json({"device": device["id"], "kind": device["kind"], "center": device["center"],
                 "window": device["window_code"], "point": device["point"], "token": token, "page": page})

