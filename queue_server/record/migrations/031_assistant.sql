-- The assistant at a service point (帮办员): a token role of its own, always bound to one point.
ALTER TABLE tokens DROP CONSTRAINT tokens_role_check;
ALTER TABLE tokens ADD CONSTRAINT tokens_role_check
  CHECK (role IN ('admin', 'manager', 'staff', 'device', 'assistant'));
ALTER TABLE tokens ADD CONSTRAINT tokens_assistant_point CHECK (role <> 'assistant' OR point IS NOT NULL);
