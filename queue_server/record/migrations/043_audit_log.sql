-- The audit log (queue_server/audit/, docs/audit.md): every action of a staff, manager, admin or
-- auditor token — who, when, what, from where, and how it ended. Append-only: the database itself
-- refuses to change or remove a row.
CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  entry_id    uuid NOT NULL UNIQUE,      -- made when the action was taken: a batch written twice adds nothing
  at          timestamptz NOT NULL,
  role        text NOT NULL,             -- admin | manager | staff | assistant | auditor | cli
  actor       text NOT NULL,             -- the staff id, else the token's label, else the role
  credential  text,                      -- the first 12 hex digits of the token's SHA-256: which token acted
  center      text,                      -- the center acted on (else the actor's)
  window_code text,                      -- the window the actor's token is bound to
  action      text NOT NULL,             -- method and route, e.g. POST /api/v1/tickets/{id}/finish
  target      jsonb NOT NULL DEFAULT '{}',  -- the route's parameters: center, window, ticket id...
  outcome     smallint NOT NULL,         -- the answer's HTTP status: 2xx done, 4xx refused, 5xx failed
  address     text,                      -- the client's address
  user_agent  text
);
CREATE INDEX audit_log_at ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_center_at ON audit_log (center, at DESC, id DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
