"""Remote acceptance sessions: live video between a remote window's clerk and the resident at a
service point, the server relaying only the signaling (docs/remote-session.md)."""
