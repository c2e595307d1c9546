-- The opening calendar. A center's weekly hours stay in centers.hours; a service point with hours of
-- its own (a 24-hour self-service point, a building's office hours) has a row here, keyed by
-- (center, point) so the points' own table can change without touching it. The operator's
-- calendar file fills the other two: local and exceptional closures or special hours, and official
-- holidays / adjusted workdays for years the chinese-calendar library does not carry yet.
CREATE TABLE point_hours (
  center  text NOT NULL REFERENCES centers(code),
  point   text NOT NULL,
  hours   jsonb NOT NULL,
  PRIMARY KEY (center, point)
);

CREATE TABLE calendar_entries (
  line       integer PRIMARY KEY,           -- its order in the file: a later line wins
  center     text,                          -- NULL: every center
  point      text,                          -- NULL: the center's hall and its points that keep hours
  first_day  date NOT NULL,
  last_day   date NOT NULL CHECK (last_day >= first_day),
  opens      time,                          -- both NULL: closed; else open these hours instead
  closes     time,
  reason     text NOT NULL DEFAULT '',
  CHECK ((opens IS NULL) = (closes IS NULL))
);

CREATE TABLE calendar_official (
  day      date PRIMARY KEY,
  working  boolean NOT NULL                 -- true: an adjusted workday; false: a public holiday
);
