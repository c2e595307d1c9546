"""docker-compose.yml stays in step with the code: the app image holds every package pyproject
installs, and every setting it passes is one the code reads (a renamed variable would otherwise
be dropped without a word)."""
from __future__ import annotations

import re
import tomllib

import yaml

from tests.support import ROOT


def test_compose_matches_the_code() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app = compose["services"]["app"]
    dockerfile = app["build"]["dockerfile_inline"]
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for pattern in packages:
        name = pattern.rstrip("*")
        assert re.search(rf"^COPY {name} {name}$", dockerfile, re.M), f"the image lacks {name}"
    source = "\n".join(p.read_text() for d in ("queue_server", "evaluation") for p in (ROOT / d).rglob("*.py"))
    for variable in app["environment"]:
        assert f'"{variable}"' in source, f"{variable} is passed to the app but nothing reads it"
    assert set(app["depends_on"]) == {"redis", "postgres"}
