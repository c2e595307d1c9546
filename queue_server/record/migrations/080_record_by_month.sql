-- The record partitioned by month (docs/durability.md, "The record by month"): a year of the whole city
-- is ~10 million tickets and ~60 million events, and a month report, a retention cut or a vacuum
-- should touch that month only. tickets by `day` (the service day, also in the ticket's id, so a look-up
-- by id prunes to one month), events by `at` (what every reader of events filters on: reports, the
-- dashboard's warm-up, the wait backtest). Months are Shanghai months: a month report reads one
-- partition of each. The key must hold the partition key: tickets (id, day), events (center, stream_id,
-- at); a stream entry always carries the same `at`, so a redelivered event is still recorded once.
-- Rows whose month has no partition (yet) land in the DEFAULT partition; the app's partition maintainer
-- (record/partitions.py) creates months ahead and moves such rows into their month.

-- Creates the month partition of `parent` ('tickets' or 'events') holding `month` unless a table of
-- that name exists (attached, or detached by retention); true when it created it. Two instances
-- calling it at once: one creates, the other waits on the lock and finds it there. Rows of that month
-- in the DEFAULT partition move into it. The partition is made standalone, then ATTACHed: ATTACH takes
-- a lock on the parent that lets the persister write on (CREATE ... PARTITION OF would block it).
CREATE FUNCTION record_month_partition(parent text, month date) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
  first date := date_trunc('month', month)::date;
  following date := (date_trunc('month', month) + interval '1 month')::date;
  part text := format('%s_y%sm%s', parent, to_char(first, 'YYYY'), to_char(first, 'MM'));
  col text;
  lo text;
  hi text;
BEGIN
  IF parent = 'tickets' THEN
    col := 'day'; lo := quote_literal(first); hi := quote_literal(following);
  ELSIF parent = 'events' THEN
    col := 'at';
    lo := quote_literal(first::timestamp AT TIME ZONE 'Asia/Shanghai');
    hi := quote_literal(following::timestamp AT TIME ZONE 'Asia/Shanghai');
  ELSE
    RAISE EXCEPTION 'record_month_partition: % is not partitioned by month', parent;
  END IF;
  PERFORM pg_advisory_xact_lock(7315080, hashtext(parent));
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  -- Nothing may enter the default partition between the move and the ATTACH's check of it.
  EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', parent || '_default');
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
  EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %s AND %I < %s RETURNING *) INSERT INTO %I SELECT * FROM moved',
                 parent || '_default', col, lo, col, hi, part);
  -- A CHECK matching the bound spares the ATTACH its scan of the new partition.
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= %s AND %I < %s)', part, part || '_bound', col, lo, col, hi);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', parent, part, lo, hi);
  EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_bound');
  RETURN true;
END
$fn$;

-- An existing deployment upgrades in place: the tables become *_unpartitioned, their rows are copied
-- into the partitioned tables (each month its partition), then they go.
ALTER TABLE tickets RENAME TO tickets_unpartitioned;
ALTER TABLE events RENAME TO events_unpartitioned;
ALTER TABLE tickets_unpartitioned DROP CONSTRAINT tickets_pkey;
ALTER TABLE events_unpartitioned DROP CONSTRAINT events_pkey;
DROP INDEX tickets_center_day, tickets_live, tickets_day, tickets_phone_lookup, tickets_phone_kept,
  events_at, events_ticket, events_called_at, events_transferred_at;

CREATE TABLE tickets (LIKE tickets_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (id, day))
  PARTITION BY RANGE (day);
CREATE TABLE tickets_default PARTITION OF tickets DEFAULT;
CREATE INDEX tickets_center_day ON tickets (center, day);
CREATE INDEX tickets_live ON tickets (center, day) WHERE status IN ('waiting', 'called', 'serving', 'paused');
CREATE INDEX tickets_day ON tickets (day);
CREATE INDEX tickets_phone_lookup ON tickets (phone_lookup) WHERE phone_lookup IS NOT NULL;
CREATE INDEX tickets_phone_kept ON tickets (issued_at) WHERE phone_sealed IS NOT NULL;

CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS, PRIMARY KEY (center, stream_id, at))
  PARTITION BY RANGE (at);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_at ON events (at);
CREATE INDEX events_ticket ON events (ticket_id);
CREATE INDEX events_called_at ON events (at) WHERE type = 'ticket.called';
CREATE INDEX events_transferred_at ON events (at) WHERE type = 'ticket.transferred';

-- The months the rows hold, and this month and the next (the maintainer keeps more ahead).
SELECT record_month_partition('tickets', m) FROM (
  SELECT DISTINCT date_trunc('month', day)::date AS m FROM tickets_unpartitioned
  UNION SELECT date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')::date
  UNION SELECT (date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') + interval '1 month')::date) x ORDER BY m;
SELECT record_month_partition('events', m) FROM (
  SELECT DISTINCT date_trunc('month', at AT TIME ZONE 'Asia/Shanghai')::date AS m FROM events_unpartitioned
  UNION SELECT date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai')::date
  UNION SELECT (date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') + interval '1 month')::date) x ORDER BY m;

INSERT INTO tickets SELECT * FROM tickets_unpartitioned;
INSERT INTO events SELECT * FROM events_unpartitioned;
DROP TABLE tickets_unpartitioned, events_unpartitioned;
ANALYZE tickets;
ANALYZE events;
