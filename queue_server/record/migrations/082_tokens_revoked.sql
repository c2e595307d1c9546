-- Every server process asks every few seconds for the tokens revoked since its last look
-- (record/people.revoked_since, api/auth.TokenCache). Without an index each look read every token
-- ever made: at the city's size (25,069 devices and their clerks) 10–15 ms of a PostgreSQL backend
-- a look on a busy machine, and more as tokens pile up. The index holds the revoked tokens only.
CREATE INDEX tokens_revoked ON tokens (revoked_at) WHERE revoked_at IS NOT NULL;
