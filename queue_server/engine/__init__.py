"""The hot store: Lua scripts that change queue state and append the event in one atomic step."""
