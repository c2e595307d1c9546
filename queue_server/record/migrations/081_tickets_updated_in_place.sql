-- A ticket's row is written at every step of its visit (issued, called, started, finished, each in a
-- batch of its own at the persister's pace): four versions of a row of several hundred bytes. Each
-- update changed the status that tickets_live was an index on, and met a full page, so none could be
-- HOT: every version went into every index of the table. Without tickets_live no indexed column
-- changes after the issue (the rebuild after a lost Redis, its only reader, reads a center's day
-- through tickets_center_day), and the tickets' pages are left 30 % free for the versions that
-- follow, which PostgreSQL prunes in place (loadtests/README.md, "The record's writes").
DROP INDEX tickets_live;

DO $$
DECLARE p regclass;
BEGIN
  FOR p IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'tickets'::regclass LOOP
    EXECUTE format('ALTER TABLE %s SET (fillfactor = 70)', p);
  END LOOP;
END
$$;

-- The months created from now on are made so (migration 080's function, tickets WITH fillfactor).
CREATE OR REPLACE FUNCTION record_month_partition(parent text, month date) RETURNS boolean
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
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)%s', part, parent,
                 CASE WHEN parent = 'tickets' THEN ' WITH (fillfactor = 70)' ELSE '' END);
  EXECUTE format('WITH moved AS (DELETE FROM %I WHERE %I >= %s AND %I < %s RETURNING *) INSERT INTO %I SELECT * FROM moved',
                 parent || '_default', col, lo, col, hi, part);
  -- A CHECK matching the bound spares the ATTACH its scan of the new partition.
  EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I CHECK (%I >= %s AND %I < %s)', part, part || '_bound', col, lo, col, hi);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', parent, part, lo, hi);
  EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', part, part || '_bound');
  RETURN true;
END
$fn$;
