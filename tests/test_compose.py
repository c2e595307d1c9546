"""docker-compose.yml (with deploy/nginx.conf and .env.example), parsed, stays in step with the code:
N app replicas behind a websocket-aware proxy that needs no sticky sessions, every service known
healthy (the app by ``/readyz``), Redis as one node or, by the ``cluster`` profile, three masters
joined by a one-shot, the image holding every package pyproject installs, the app given every setting
it cannot start without (secrets required, never written down, named in .env.example and nowhere
else), its URLs pointing at the other services with their own credentials, and nothing passed that no
code reads (a renamed variable would otherwise be dropped without a word). No Docker engine here."""
from __future__ import annotations

import os
import re
import tomllib
from urllib.parse import urlsplit

import pytest
import yaml

from queue_server.cli import GRACEFUL_SHUTDOWN_S
from queue_server.config import DB_POOL_BY_TIER, Settings
from queue_server.engine.connection import is_cluster, node_url
from queue_server.tiers import LIVE_STATE
from tests.support import ROOT

COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()
NGINX_TIERS = (ROOT / "deploy" / "nginx-tiers.conf").read_text()
ENV_EXAMPLE = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if line.strip() and not line.startswith("#"))
SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "QUEUE_ADMIN_TOKEN": "admin-secret",
           "QUEUE_PERSONAL_DATA_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
CLUSTER_NODES = ["redis-1", "redis-2", "redis-3"]
_VAR = re.compile(r"(?<!\$)\$\{(\w+)(?:(:-|:\?)([^}]*))?\}")


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


def app_port() -> str:
    cmd = re.search(r'^CMD (\[.*\])$', SERVICES["app"]["build"]["dockerfile_inline"], re.M)
    assert cmd, "the image says how the server starts"
    args = yaml.safe_load(cmd.group(1))
    return args[args.index("--port") + 1]


def directives(block: str) -> list[list[str]]:
    """nginx directives of the top level of ``block`` (blocks nested in it left out), each as its words."""
    out, depth, current = [], 0, ""
    for ch in re.sub(r"#[^\n]*", "", block):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == ";" and depth == 0:
            out.append(current.split())
            current = ""
        elif depth == 0:
            current += ch
    return out


def nginx_block(name: str, text: str = NGINX) -> str:
    """The body of the first ``name {...}`` block of ``text``."""
    m = re.search(rf"(^|\n)\s*{re.escape(name)}\s*\{{", re.sub(r"#[^\n]*", "", text))
    assert m, f"no {name} block"
    text = re.sub(r"#[^\n]*", "", text)
    depth, start = 1, m.end()
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    raise AssertionError(f"{name} block not closed")


def test_every_service_known_healthy() -> None:
    assert set(SERVICES) == {"proxy", "app", "sockets", "background", "redis", *CLUSTER_NODES, "redis-cluster",
                             "postgres"}
    for name, service in SERVICES.items():
        if name == "redis-cluster":
            assert service["restart"] == "no"      # a one-shot: done once the cluster is made
            continue
        check = service["healthcheck"]
        assert check["test"][0] == "CMD" and check["retries"] >= 3, name
        assert all(re.fullmatch(r"\d+s", check[k]) for k in ("interval", "timeout")), name
        assert service["restart"] == "unless-stopped", name
    for name in ["redis", *CLUSTER_NODES]:
        assert SERVICES[name]["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    pg = SERVICES["postgres"]["environment"]
    assert SERVICES["postgres"]["healthcheck"]["test"][1:] == ["pg_isready", "-U", pg["POSTGRES_USER"],
                                                               "-d", pg["POSTGRES_DB"]]
    # the app is healthy when /readyz (Redis and PostgreSQL answer) does, on the port it serves
    assert f"http://127.0.0.1:{app_port()}/readyz" in " ".join(SERVICES["app"]["healthcheck"]["test"])
    assert SERVICES["app"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert set(COMPOSE["volumes"]) == {v.split(":")[0] for s in SERVICES.values() for v in s.get("volumes", [])
                                       if not v.startswith(".")}


def test_replicas_behind_the_proxy_only() -> None:
    app = SERVICES["app"]
    assert expand(app["deploy"]["replicas"], {}) == "3"
    assert expand(app["deploy"]["replicas"], {"APP_REPLICAS": "5"}) == "5"
    # replicas cannot share a host port, and nothing but the proxy should reach an instance
    assert "ports" not in app and "container_name" not in app
    # SIGTERM → uvicorn's graceful shutdown, which must end before Docker's SIGKILL
    assert int(app["stop_grace_period"].rstrip("s")) > GRACEFUL_SHUTDOWN_S
    proxy = SERVICES["proxy"]
    assert proxy["depends_on"] == {"app": {"condition": "service_healthy"},
                                   "sockets": {"condition": "service_healthy", "required": False}}
    conf = [expand(v, {}) for v in proxy["volumes"] if v.endswith(":/etc/nginx/conf.d/default.conf:ro")]
    assert conf == ["./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro"]
    assert re.fullmatch(r"nginx:1\.(2[7-9]|[3-9]\d)(-alpine)?", proxy["image"])   # `resolve` in an upstream: 1.27.3 on
    listen = [d[1] for d in directives(nginx_block("server")) if d[0] == "listen"]
    assert [expand(p, {}).split(":")[-1] for p in proxy["ports"]] == listen
    assert expand(proxy["ports"][0], {}).split(":")[0] == "8000"
    # the proxy is healthy when an instance behind it is ready
    assert f"http://127.0.0.1:{listen[0]}/readyz" in proxy["healthcheck"]["test"]


@pytest.mark.parametrize("conf", [NGINX, NGINX_TIERS], ids=["nginx.conf", "nginx-tiers.conf"])
def test_the_proxy_holds_websockets_without_sticky_sessions(conf: str) -> None:
    for service in ("app", "sockets") if conf is NGINX_TIERS else ("app",):
        upstream = directives(nginx_block(f"upstream {service}", conf))
        servers = [d for d in upstream if d[0] == "server"]
        assert [s[1] for s in servers] == [f"{service}:{app_port()}"], "every replica, through the service's name"
        assert "resolve" in servers[0] and ["zone", service, "64k"] in upstream   # replicas followed as they scale
        assert not {"ip_hash", "sticky"} & {d[0] for d in upstream}, "no client tied to an instance"
        # the sockets by center, so each replica reads only its centers' streams; the app round robin
        assert [d for d in upstream if d[0] == "hash"] == ([["hash", "$live_center", "consistent"]]
                                                             if service == "sockets" else [])
    assert any(d[0] == "resolver" and d[1] == "127.0.0.11" for d in directives(conf))
    server = nginx_block("server", conf)
    # every location proxies the same way: the settings are the server's, inherited
    assert {d[0] for d in directives(nginx_block("location /", server))} == {"proxy_pass"}
    location = {d[0]: d[1:] for d in [*directives(server), *directives(nginx_block("location /", server))]}
    headers = [d[1:] for d in directives(server) if d[0] == "proxy_set_header"]
    assert location["proxy_pass"] == ["http://app"]
    assert location["proxy_http_version"] == ["1.1"]
    assert ["Upgrade", "$http_upgrade"] in headers and ["Connection", "$connection_upgrade"] in headers
    # uvicorn trusting every proxy (FORWARDED_ALLOW_IPS=*) reads the first X-Forwarded-For entry as the
    # client: nginx sets it to the peer, so a client cannot name itself anew to dodge the rate limits
    assert SERVICES["app"]["environment"]["FORWARDED_ALLOW_IPS"] == "*"
    assert ["X-Forwarded-For", "$remote_addr"] in headers
    upgrade_map = directives(nginx_block("map $http_upgrade $connection_upgrade", conf))
    assert ["default", "upgrade"] in upgrade_map
    # a quiet screen's socket outlives nginx's default 60 s by far (the hub pings every 15 s)
    assert int(location["proxy_read_timeout"][0].rstrip("s")) >= 3600
    assert "http_503" in location["proxy_next_upstream"]            # an instance not ready is skipped
    assert "non_idempotent" not in location["proxy_next_upstream"]  # a POST is never sent twice


def test_the_tiers_profile() -> None:
    app, sockets = SERVICES["app"], SERVICES["sockets"]
    assert sockets["profiles"] == ["tiers"] and "profiles" not in app
    assert sockets["build"] == app["build"] and sockets["healthcheck"] == app["healthcheck"]
    assert sockets["depends_on"] == app["depends_on"] and sockets["stop_grace_period"] == app["stop_grace_period"]
    assert {**sockets["environment"], "QUEUE_TIER": app["environment"]["QUEUE_TIER"]} == app["environment"]
    assert sockets["environment"]["QUEUE_TIER"] == "sockets" and app_env(SECRETS)["QUEUE_TIER"] == "all"
    assert expand(sockets["deploy"]["replicas"], {}) == "2"
    # the proxy's file follows the tiers: everything the sockets tier serves goes to its replicas
    proxy_conf = next(v for v in SERVICES["proxy"]["volumes"] if v.endswith(":/etc/nginx/conf.d/default.conf:ro"))
    assert expand(proxy_conf, {"QUEUE_PROXY_CONF": "nginx-tiers.conf"}).startswith("./deploy/nginx-tiers.conf:")
    for line in ("COMPOSE_PROFILES=single,tiers", "QUEUE_TIER=http", "QUEUE_PROXY_CONF=nginx-tiers.conf"):
        assert line in COMPOSE_TEXT and line in (ROOT / ".env.example").read_text(), line
    server = nginx_block("server", NGINX_TIERS)
    routed = {}
    for m in re.finditer(r"location\s+(=\s+)?(\S+)\s*\{", re.sub(r"#[^\n]*", "", server)):
        block = nginx_block(m.group(0).rstrip("{").strip(), server)
        routed[m.group(2)] = [d[1] for d in directives(block) if d[0] == "proxy_pass"]
    assert routed == {"/": ["http://app"], "/ws/": ["http://sockets"], **{p: ["http://sockets"] for p in LIVE_STATE}}
    # which center a socket's path names, as nginx's map reads it (PCRE: Python spells a named group
    # ``(?P<name>``); the dashboards and the live-state reads go together
    rules = directives(nginx_block("map $uri $live_center", NGINX_TIERS))
    assert rules[-1] == ["default", "ops"]

    c = "jingansi"

    def center(path: str) -> str:
        for pattern, value in rules[:-1]:
            if m := re.match(pattern.removeprefix("~").replace("(?<", "(?P<"), path):
                return value.replace("$center", m.group("center"))
        return "ops"
    for path, want in ((f"/ws/centers/{c}/display", c), (f"/ws/centers/{c}/windows/w1/screen", c),
                       (f"/ws/points/{c}-sp1/screen", c), (f"/ws/tickets/{c}-20261206-A001", c),
                       (f"/ws/sessions/{c}-20261206-R001", c), ("/ws/ops", "ops"), ("/api/v1/ops/figures", "ops"),
                       ("/api/v1/ops/realtime", "ops")):
        assert center(path) == want, path


def test_the_background_profile() -> None:
    """The http tier's background work in a service of its own: the same image and checks, the api
    tier for app (named in .env.example), and nothing routed to it by either proxy file."""
    app, background = SERVICES["app"], SERVICES["background"]
    assert background["profiles"] == ["background"]
    assert background["build"] == app["build"] and background["healthcheck"] == app["healthcheck"]
    assert background["depends_on"] == app["depends_on"] and background["stop_grace_period"] == app["stop_grace_period"]
    assert {**background["environment"], "QUEUE_TIER": app["environment"]["QUEUE_TIER"]} == app["environment"]
    assert background["environment"]["QUEUE_TIER"] == "background" and "ports" not in background
    assert expand(background["deploy"]["replicas"], {}) == "1"
    for line in ("COMPOSE_PROFILES=single,tiers,background", "QUEUE_TIER=api"):
        assert line in (ROOT / ".env.example").read_text(), line
    assert "background" not in SERVICES["proxy"]["depends_on"]
    assert "background" not in NGINX and "background" not in NGINX_TIERS


def test_the_cluster_profile() -> None:
    assert SERVICES["redis"]["profiles"] == ["single"]
    for name in CLUSTER_NODES:
        node = SERVICES[name]
        assert node["profiles"] == ["cluster"]
        assert node["command"][node["command"].index("--cluster-enabled") + 1] == "yes"
        assert "--appendonly" in node["command"] and f"{name}-data:/data" in node["volumes"]
    create = SERVICES["redis-cluster"]
    assert create["profiles"] == ["cluster"]
    script = " ".join(create["command"])
    assert "redis-cli --cluster create --cluster-yes" in script and "cluster_state:ok" in script
    assert all(n in script for n in CLUSTER_NODES)
    assert create["depends_on"] == {n: {"condition": "service_healthy"} for n in CLUSTER_NODES}
    # the app waits for whichever Redis the profile starts
    assert SERVICES["app"]["depends_on"]["redis"] == {"condition": "service_healthy", "required": False}
    assert SERVICES["app"]["depends_on"]["redis-cluster"] == {"condition": "service_completed_successfully",
                                                              "required": False}
    # the URL follows the profile: single by default, the cluster client when .env says so
    single = app_env(SECRETS)["REDIS_URL"]
    assert ENV_EXAMPLE["COMPOSE_PROFILES"] == "single" and ENV_EXAMPLE["REDIS_URL"] == single
    assert not is_cluster(single) and urlsplit(single).hostname == "redis"
    documented = re.search(r"REDIS_URL=(redis\+cluster://\S+)", COMPOSE_TEXT)
    assert documented and "COMPOSE_PROFILES=cluster" in COMPOSE_TEXT
    cluster = app_env({**SECRETS, "REDIS_URL": documented.group(1)})["REDIS_URL"]
    assert is_cluster(cluster) and urlsplit(node_url(cluster)).hostname in CLUSTER_NODES


def test_env_example_names_what_compose_reads_with_no_secret_in_it() -> None:
    interpolated = {m[0] for m in _VAR.findall(COMPOSE_TEXT)}
    required = {m[0] for m in _VAR.findall(COMPOSE_TEXT) if m[1] == ":?"}
    assert required == set(SECRETS)
    assert set(ENV_EXAMPLE) - {"COMPOSE_PROFILES"} == interpolated   # COMPOSE_PROFILES is read by compose itself
    for name, value in ENV_EXAMPLE.items():
        if name in required or re.search(r"TOKEN|PASSWORD|KEY|SID", name):
            assert value == "", f"{name} must be filled in by the deployer, not shipped"


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
    uvicorn_config = __import__("uvicorn.config", fromlist=["Config"]).__file__
    source += open(uvicorn_config).read()    # FORWARDED_ALLOW_IPS is uvicorn's own
    for variable in SERVICES["app"]["environment"]:
        read = rf'(get|_int|_float|environ)\s*[(\[]\s*"{variable}"'
        assert re.search(read, source), f"{variable} is passed to the app but nothing reads it"


def test_postgresql_takes_every_connection_the_processes_may_hold() -> None:
    """Each process holds up to its tier's pool (config.DB_POOL_BY_TIER); PostgreSQL refuses connections
    past ``max_connections`` (100 by default), which 3 replicas × 2 workers of 20 already passed."""
    command = SERVICES["postgres"]["command"]
    allowed = int(command[command.index("-c") + 1].removeprefix("max_connections="))

    def held(service: str, tier: str) -> int:
        replicas = int(expand(SERVICES[service]["deploy"]["replicas"], {}))
        cmd = yaml.safe_load(SERVICES["app"]["build"]["dockerfile_inline"].split("CMD ", 1)[1].splitlines()[0])
        workers = int(cmd[cmd.index("--workers") + 1])
        return replicas * workers * DB_POOL_BY_TIER[tier]

    assert allowed >= held("app", "all")
    assert allowed >= held("app", "http") + held("sockets", "sockets") + 10   # and room for an admin's psql
    assert allowed >= held("app", "api") + held("sockets", "sockets") + held("background", "background") + 10
