-- Reports (queue_server/ops/reports.py) read a range's calls (for the staff on duty) and transfers
-- from the events table: small partial indexes keep that from scanning every event of the range.
CREATE INDEX IF NOT EXISTS events_called_at ON events (at) WHERE type = 'ticket.called';
CREATE INDEX IF NOT EXISTS events_transferred_at ON events (at) WHERE type = 'ticket.transferred';
