"""The load model's arithmetic and the benchmark's verdict, without running any load (timings are
measured by loadtests/run, never asserted here)."""
from __future__ import annotations

from loadtests.city import city_catalog
from loadtests.plan import WINDOW_ROUND_S, Plan, clerk_windows, people, rates
from loadtests.profiles import CITY, OPS_PER_VISIT, PROFILES, Targets
from loadtests.summary import judge


def test_the_city_profile_is_the_whole_city() -> None:
    catalog = city_catalog(CITY)
    assert len(catalog["centers"]) == 220 + 67
    assert len(catalog["service_points"]) == 6_077
    assert len({(p["center"], p["code"]) for p in catalog["service_points"]}) == 6_077
    assert len({c["code"] for c in catalog["centers"]}) == 287
    assert all("-" not in c["code"] for c in catalog["centers"])   # ticket ids are center-day-number
    city = PROFILES["city"]
    assert city.screens == 287 * 45 + 6_077 * 2 == 25_069
    assert city.ops_per_s == 1_000
    assert 4 < OPS_PER_VISIT < 5


def test_every_device_and_window_gets_its_own_token() -> None:
    catalog = city_catalog(PROFILES["district"].size)
    devices, clerks, kiosks, rows = people(catalog)
    assert len(devices) == PROFILES["district"].screens
    assert len(clerks) == len(catalog["windows"])
    assert len(kiosks) == len(catalog["centers"])
    assert len({r[0] for r in rows}) == len(rows) == len(devices) + len(clerks) + len(kiosks)
    point_devices = [d for d in devices if d.point]
    assert all(d.window.startswith("r") for d in point_devices)


def test_every_clerk_comes_back_to_each_of_its_windows_within_a_round_at_every_profile() -> None:
    """Else a short window measures only a first round of call-nexts (city-now did: 25.6 of its 30
    operations a second, no finish, no rating). No window is worked twice, the windows worked span the
    centers, and only city-now, whose rounds were minutes long, works fewer than all of them."""
    for profile in PROFILES.values():
        clerks = [(w["center"], w["code"], "token") for w in city_catalog(profile.size)["windows"]]
        rate = rates(profile)["clerk"]
        worked = [clerk_windows(clerks, i, profile.clerks, rate) for i in range(profile.clerks)]
        assert all(0 < len(mine) / rate <= WINDOW_ROUND_S for mine in worked), profile.name
        every = [w for mine in worked for w in mine]
        assert len(set(every)) == len(every)
        if profile.name == "city-now":   # 180 windows in half the city's centers: calls on hall displays across it
            assert len({center for center, _, _ in every}) >= 287 // 2
        else:
            assert len(every) == len(clerks), profile.name


def test_every_device_of_a_center_opens_on_one_sockets_server_and_the_servers_hold_a_share_each() -> None:
    """As the proxy sends them (deploy/nginx-tiers.conf): each sockets process then reads only its own
    centers' streams, and none holds far more than its half of the city's 25,069 sockets (a process may
    hold 20,000 files on the test machine)."""
    devices, _, _, _ = people(city_catalog(CITY))
    plan = Plan("city", ["http://a"], "", 2, [], devices, [], {}, {}, {}, {}, socket_servers=["http://s1", "http://s2"])
    on: dict[str, set[str]] = {}
    held = {"http://s1": 0, "http://s2": 0}
    for d in devices:
        on.setdefault(d.center, set()).add(plan.live_server(d.center))
        held[plan.live_server(d.center)] += 1
    assert all(len(servers) == 1 for servers in on.values())
    assert abs(held["http://s1"] - held["http://s2"]) <= max(sum(d.center == c for d in devices) for c in on)
    assert max(held.values()) < 13_000
    assert Plan("x", ["http://a"], "", 1, [], devices[:5], [], {}, {}, {}, {}).live_server(devices[0].center) == "http://a"


def _summary(**load: object) -> dict:
    base = {"baseline": {"failures": 0, "per_s": 1000.0}, "capacity": {"failures": 0, "ratio_to_baseline": 0.6},
            "load": {"errors": 0, "sockets": {"held_at_end": 25_069},
                     "call_to_screen": {"count": 500, "p99_ms": 80},
                     "queue_operations": {"per_s": 990.0, "worst_p99_ms": 40}}}
    for key, value in load.items():
        base["load"][key] = value
    return base


def test_the_verdict_names_each_missed_target() -> None:
    city = PROFILES["city"]
    assert all(t["met"] for t in judge(city, _summary()))
    slow = judge(city, _summary(queue_operations={"per_s": 990.0, "worst_p99_ms": 60}))
    assert [t["target"] for t in slow if not t["met"]] == ["queue operation p99 (worst operation), ms"]
    broken = _summary(errors=3)
    assert [t["target"] for t in judge(city, broken) if not t["met"]] == ["errors"]


def test_the_smoke_profile_judges_errors_and_sockets_only() -> None:
    smoke = PROFILES["smoke"]
    assert smoke.targets == Targets(ops_p99_ms=None, call_p99_ms=None, min_rate_share=None, min_baseline_ratio=None)
    s = _summary(queue_operations={"per_s": 1.0, "worst_p99_ms": 900}, sockets={"held_at_end": smoke.screens})
    assert all(t["met"] for t in judge(smoke, s))
