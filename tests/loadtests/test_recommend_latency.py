"""``python -m loadtests.recommend_latency``: the city catalog placed — every center at a position of its
own and open all day, so a run at any hour has every center a candidate of the recommendation."""
from __future__ import annotations

from loadtests.profiles import CITY
from loadtests.recommend_latency import MATTER, placed_catalog
from queue_server.domain.calendar import Hours


def test_every_center_of_the_city_is_placed_apart_and_open_all_day() -> None:
    catalog = placed_catalog()
    centers = catalog["centers"]
    assert len(centers) == CITY.centers
    assert len({(c["lat"], c["lng"]) for c in centers}) == len(centers)
    assert all(30.9 < c["lat"] < 31.6 and 121.1 < c["lng"] < 121.9 for c in centers)
    assert {str(Hours.parse(c["hours"]).to_json()) for c in centers} == {str(Hours.parse(centers[0]["hours"]).to_json())}
    assert Hours.parse(centers[0]["hours"]).to_json()["weekdays"] == ["00:00", "24:00"]
    assert next(m for m in catalog["matters"] if m["code"] == MATTER)["whole_city"]
