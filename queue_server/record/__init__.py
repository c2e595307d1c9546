"""The system of record: PostgreSQL schema, the stream persister, rebuild and queries."""
