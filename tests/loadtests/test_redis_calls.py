"""``loadtests/run --redis-calls``: Redis's slow log sampled while scripts run names each script and
counts its calls apart from the commands made inside it and those sent by clients, and Redis's
slow-log settings are as they were after."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import redis

from loadtests.redis_calls import sample, sampling, script_names, summarize
from queue_server.config import Settings
from queue_server.engine.scripts import _source

CALLS = 40


def _release_claims(client: redis.Redis, prefix: str, go: threading.Event) -> None:
    """Once ``go``: the resident_release script on CALLS claims, one HGET inside each, and one GET sent."""
    release = client.register_script(_source("resident_release"))
    client.script_load(release.script)   # loaded before: redis-py's first call would otherwise be refused once
    go.wait(10)
    for i in range(CALLS):
        client.hset(f"{prefix}:claim:{i}", "key", "mine")
        release(keys=[f"{prefix}:claim:{i}"], args=["mine"])
    client.get(f"{prefix}:nothing")


def test_a_sample_counts_each_script_and_puts_the_slow_log_back(settings: Settings) -> None:
    with redis.Redis.from_url(settings.redis_url) as client:
        kept = client.config_get("slowlog-*")
        go = threading.Event()
        caller = threading.Thread(target=_release_claims, args=(client, settings.key_prefix, go))
        caller.start()
        threading.Timer(0.3, go.set).start()
        found = sample(client, seconds=1.5)
        caller.join()
        assert client.config_get("slowlog-*") == kept
        assert client.slowlog_len() == 0
    assert found["scripts"]["resident_release"]["calls"] == CALLS
    assert found["in_scripts"]["hget"]["calls"] >= CALLS
    assert found["commands"]["hset"]["calls"] >= CALLS and found["commands"]["get"]["calls"] >= 1
    assert "evalsha" not in found["commands"] and "hget" not in found["commands"]
    figures = found["scripts"]["resident_release"]
    assert 0 < figures["us_p50"] <= figures["us_p99"] <= figures["us_max"] and figures["ms_per_s"] > 0


def test_entries_are_ranked_by_time_and_an_unknown_script_keeps_its_sha() -> None:
    names = script_names()
    issue = next(sha for sha, name in names.items() if name == "issue")
    entries = [{"command": b"EVALSHA " + issue.encode() + b" 7 k1", "duration": 200, "client_address": b"127.0.0.1:1"},
               {"command": b"EVALSHA " + issue.encode() + b" 7 k2", "duration": 100, "client_address": b"127.0.0.1:1"},
               {"command": b"EVALSHA 0123456789abcdef0123 1 k", "duration": 50, "client_address": b"127.0.0.1:2"},
               {"command": b"HGET k f", "duration": 2, "client_address": b"?:0"},
               {"command": b"XREAD COUNT 500", "duration": 600, "client_address": b"127.0.0.1:3"}]
    out = summarize(entries, 2.0, names)
    assert list(out["scripts"]) == ["issue", "0123456789ab"]
    assert out["scripts"]["issue"] == {"calls": 2, "ms_per_s": 0.1, "us_mean": 150.0, "us_p50": 200, "us_p99": 200,
                                       "us_max": 200}
    assert list(out["commands"]) == ["xread"] and list(out["in_scripts"]) == ["hget"]


def test_the_sample_is_taken_in_the_window_and_none_without_it(settings: Settings, tmp_path: Path) -> None:
    with sampling(tmp_path, "load", settings.redis_url, measure_s=3.2, enabled=True) as found:
        (tmp_path / "window-load.json").write_text(json.dumps({"start": time.time()}))
        time.sleep(3.5)
    assert found["seconds"] > 0 and set(found) == {"seconds", "scripts", "commands", "in_scripts"}
    with sampling(tmp_path / "none", "load", settings.redis_url, measure_s=3.2, enabled=True) as never:
        pass
    assert never == {}
