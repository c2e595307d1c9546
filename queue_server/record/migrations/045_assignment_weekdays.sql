-- A remote window's assignment to a point may hold on some days of the week only (ISO weekdays,
-- Monday = 1): one clerk covers a point on Mondays and Wednesdays, another the other days.
ALTER TABLE remote_assignments
  ADD COLUMN weekdays smallint[] NOT NULL DEFAULT '{1,2,3,4,5,6,7}'
    CHECK (cardinality(weekdays) > 0 AND weekdays <@ '{1,2,3,4,5,6,7}'::smallint[]);
