-- A district report (no center) over a range of days: without this, every report reads the whole
-- tickets table (a month out of a year: 14 ms instead of ~100 ms of scanning, see ops/reports.py).
CREATE INDEX IF NOT EXISTS tickets_day ON tickets (day);
