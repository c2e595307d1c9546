"""``loadtests/run --tiers H:S[:B]``: which processes the load phases start, and the option's refusals; ``--neighbour``'s too."""
from __future__ import annotations

import argparse
import dataclasses

import pytest

from loadtests.profiles import PROFILES
from loadtests.runner import neighbour_arg, tiers_arg, tiers_of


def test_tiers_name_each_server_process() -> None:
    district = PROFILES["district"]
    assert tiers_of(district) == ["all"] * district.servers
    assert tiers_of(dataclasses.replace(district, tiers=tiers_arg("2:1"))) == ["http", "http", "sockets"]
    assert tiers_of(dataclasses.replace(district, tiers=tiers_arg("2:1:0"))) == ["http", "http", "sockets"]
    # background processes take the http tier's background work: the API's processes are then api
    assert tiers_of(dataclasses.replace(district, tiers=tiers_arg("2:1:1"))) == ["api", "api", "sockets", "background"]


@pytest.mark.parametrize("value", ["1", "1:0", "0:2", "a:b", "1:2:3:4", "1:1:-1"])
def test_tiers_want_one_process_of_each(value: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        tiers_arg(value)


def test_a_neighbour_is_busy_for_part_of_its_period() -> None:
    assert neighbour_arg("3:10") == (3.0, 10.0)
    for bad in ("3", "10:3", "0:10", "3:3", "a:b", "3:10:1"):
        with pytest.raises(argparse.ArgumentTypeError):
            neighbour_arg(bad)
