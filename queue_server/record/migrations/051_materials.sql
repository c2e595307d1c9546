-- Remote acceptance materials: each matter's checklist as structured items, the scans a service point
-- uploads for a ticket's items (content-addressed: the bytes are stored once under their SHA-256) and
-- the clerk's review of each scan.
CREATE TABLE matter_materials (
  matter    text NOT NULL REFERENCES matters (code) ON DELETE CASCADE,
  item      smallint NOT NULL CHECK (item BETWEEN 1 AND 50),      -- its place in the checklist
  name_zh   text NOT NULL,
  name_en   text NOT NULL,
  form      text NOT NULL CHECK (form IN ('original', 'copy')),
  copies    smallint NOT NULL DEFAULT 1 CHECK (copies BETWEEN 1 AND 20),
  to_center boolean NOT NULL DEFAULT false,                       -- the original travels to the center
  PRIMARY KEY (matter, item)
);

CREATE TABLE material_blobs (
  sha256     text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size       bigint NOT NULL,
  media_type text NOT NULL,
  stored_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE material_scans (
  id          bigserial PRIMARY KEY,
  ticket_id   text NOT NULL,
  center      text NOT NULL,
  point       text NOT NULL,
  matter      text NOT NULL,
  item        smallint NOT NULL,
  sha256      text NOT NULL REFERENCES material_blobs (sha256),
  size        bigint NOT NULL,
  media_type  text NOT NULL,
  uploaded_by text NOT NULL,
  uploaded_at timestamptz NOT NULL,
  state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'rejected')),
  reason      text,
  reviewed_by text,
  reviewed_at timestamptz,
  CHECK (state <> 'rejected' OR reason IS NOT NULL)
);
CREATE INDEX material_scans_ticket ON material_scans (ticket_id, item, id);
