"""docker-compose.yml, parsed, stays in step with the code: the three services and how each is known
healthy, the app starting only once both stores are, the image holding every package pyproject
installs, the app given every setting it cannot start without (secrets required, never written
down), its URLs pointing at the other two services with their own credentials, and nothing passed
that no code reads (a renamed variable would otherwise be dropped without a word)."""
from __future__ import annotations

import os
import re
import tomllib
from urllib.parse import urlsplit

import pytest
import yaml

from queue_server.config import Settings
from tests.support import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "QUEUE_ADMIN_TOKEN": "admin-secret",
           "QUEUE_PERSONAL_DATA_KEY": "bDKJ1Bk5vUo6x1cXZc4mV0n0uQ1xP7b5s3pE3Yh6QkA="}
_VAR = re.compile(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}")


def expand(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ${X}, ${X:-default}, ${X:?error} (which refuses to start without X)."""
    def one(m: re.Match[str]) -> str:
        name, op, arg = m.groups()
        if env.get(name):
            return env[name]
        if op == ":?":
            raise LookupError(f"{name}: {arg}")
        return arg if op == ":-" else ""
    return _VAR.sub(one, str(value))


def app_env(env: dict[str, str]) -> dict[str, str]:
    return {k: expand(v, env) for k, v in SERVICES["app"]["environment"].items()}


def test_three_services_each_with_a_health_check() -> None:
    assert set(SERVICES) == {"redis", "postgres", "app"}
    for name, service in SERVICES.items():
        check = service["healthcheck"]
        assert check["test"][0] == "CMD" and check["retries"] >= 3, name
        assert all(re.fullmatch(r"\d+s", check[k]) for k in ("interval", "timeout")), name
        assert service["restart"] == "unless-stopped", name
    assert SERVICES["redis"]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    pg = SERVICES["postgres"]["environment"]
    assert SERVICES["postgres"]["healthcheck"]["test"][1:] == ["pg_isready", "-U", pg["POSTGRES_USER"],
                                                               "-d", pg["POSTGRES_DB"]]
    # the app is healthy when /readyz (Redis and PostgreSQL answer) does, on the port it serves
    app = SERVICES["app"]
    cmd = re.search(r'^CMD (\[.*\])$', app["build"]["dockerfile_inline"], re.M)
    assert cmd, "the image says how the server starts"
    port = yaml.safe_load(cmd.group(1))
    port = port[port.index("--port") + 1]
    assert f"http://127.0.0.1:{port}/readyz" in " ".join(app["healthcheck"]["test"])
    assert any(p.split(":")[-1] == port for p in app["ports"])
    assert app["depends_on"] == {"redis": {"condition": "service_healthy"},
                                 "postgres": {"condition": "service_healthy"}}
    assert set(COMPOSE["volumes"]) == {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", [])}


def test_the_image_holds_every_package() -> None:
    dockerfile = SERVICES["app"]["build"]["dockerfile_inline"]
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in packages:
        name = pattern.rstrip("*")
        assert re.search(rf"^COPY {name} {name}$", dockerfile, re.M), f"the image lacks {name}"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_a_secret_is_required_not_defaulted(missing: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != missing}
    with pytest.raises(LookupError, match=missing):
        for service in SERVICES.values():
            [expand(v, env) for v in service.get("environment", {}).values()]


def test_the_app_gets_what_it_needs_pointing_at_the_other_services(monkeypatch: pytest.MonkeyPatch) -> None:
    env = app_env(SECRETS)
    pg = {k: expand(v, SECRETS) for k, v in SERVICES["postgres"]["environment"].items()}
    for name in [n for n in os.environ if n in env or n.startswith(("QUEUE_", "TWILIO_"))]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert settings.admin_token == SECRETS["QUEUE_ADMIN_TOKEN"]
    assert settings.personal_data_key == SECRETS["QUEUE_PERSONAL_DATA_KEY"] and settings.phone_retention_days == 45
    redis, database = urlsplit(settings.redis_url or ""), urlsplit(settings.database_url or "")
    assert (redis.scheme, redis.hostname, redis.port) == ("redis", "redis", 6379)
    assert (database.scheme, database.hostname, database.port) == ("postgresql", "postgres", 5432)
    assert (database.username, database.password, database.path) == (
        pg["POSTGRES_USER"], SECRETS["POSTGRES_PASSWORD"], f"/{pg['POSTGRES_DB']}")


def test_every_variable_passed_is_one_the_code_reads() -> None:
    source = "\n".join(p.read_text() for d in ("queue_server", "evaluation") for p in (ROOT / d).rglob("*.py"))
    for variable in SERVICES["app"]["environment"]:
        read = rf'(get|_int|_float|environ)\s*[(\[]\s*"{variable}"'
        assert re.search(read, source), f"{variable} is passed to the app but nothing reads it"
