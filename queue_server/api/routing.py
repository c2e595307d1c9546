"""Route matching that tries only the routes a path can match. Starlette's router tries its routes in
order, a regular expression each, until one matches: with the ~150 routes of the whole server a queue
operation tried 9-15 of them (~4 % of a server's CPU per operation at capacity). Here the routes are
indexed by the literal segments their paths begin with, and a request tries, in the same order, only
those whose literal beginning its path shares; what it matches, and every answer (405, a redirected
slash, 404), is what Starlette's router gives."""
from __future__ import annotations

from starlette.routing import BaseRoute, Match, Router, get_route_path
from starlette.types import Receive, Scope, Send

KEY_SEGMENTS = 3   # /api/v1/<resource>: deep enough to tell the resources apart


def literal_segments(path: str) -> tuple[str, ...]:
    """The whole literal segments a route's path begins with (at most ``KEY_SEGMENTS``): those before
    the first ``{parameter}``, a segment holding one not included."""
    head = path.split("{", 1)[0]
    segments = head.split("/")[1:]
    if "{" in path:   # the segment the parameter starts in is not whole
        segments = segments[:-1]
    return tuple(segments[:KEY_SEGMENTS])


class IndexedRouter(Router):
    """Starlette's router, trying only the candidate routes of a path (``literal_segments``). Routes
    added after the first request are seen: the index is rebuilt when the route list changes."""

    _indexed: tuple[int, int] = (0, 0)
    _candidates: dict[tuple[str, ...], list[BaseRoute]]

    def _index(self) -> dict[tuple[str, ...], list[BaseRoute]]:
        if self._indexed != (id(self.routes), len(self.routes)):
            keyed = [(literal_segments(getattr(r, "path", "")), r) for r in self.routes]
            keys = {k[:n] for k, _ in keyed for n in range(len(k) + 1)}
            # every key's candidates: the routes whose literal beginning is that key or a prefix of it
            self._candidates = {key: [r for k, r in keyed if key[:len(k)] == k] for key in keys}
            self._indexed = (id(self.routes), len(self.routes))
        return self._candidates

    def candidates(self, path: str) -> list[BaseRoute]:
        index = self._index()
        segments = tuple(path.split("/")[1:KEY_SEGMENTS + 1])
        for n in range(len(segments), -1, -1):
            found = index.get(segments[:n])
            if found is not None:
                return found
        return []

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().app(scope, receive, send)
            return
        scope.setdefault("router", self)
        partial = partial_scope = None
        for route in self.candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = route, child_scope
        if partial is not None:
            scope["route"] = partial
            scope.update(partial_scope)   # type: ignore[arg-type]
            await partial.handle(scope, receive, send)
            return
        await super().app(scope, receive, send)   # nothing matches: Starlette's redirect of a slash, or 404
