"""The door-to-door pages: the center's case board with each case's history (1366x768 clerk
monitor) and the visiting staff's visit page (390x844 phone). Static files in displays/, served
with the other pages' headers."""
from __future__ import annotations

from starlette.routing import Route

from displays.component import page

routes = [
    Route("/door/{center}", page("door")),
    Route("/door/{center}/visit", page("visit")),
]
