"""Live screens: one stream reader per process, the socket hub, and the websocket endpoints."""
