"""The audit log: every staff, manager, admin and auditor action, append-only in PostgreSQL."""
