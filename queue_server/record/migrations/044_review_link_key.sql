-- Web review links are derived, not drawn: HMAC(this key, ticket, round, creation time). Minting again
-- while a link is live gives the same link back, yet only its SHA-256 is stored (review_links).
-- One key for every instance; gen_random_uuid() draws from PostgreSQL's strong random source.
CREATE TABLE review_link_key (
  one     boolean PRIMARY KEY DEFAULT true CHECK (one),
  secret  text NOT NULL
);
INSERT INTO review_link_key (secret)
  VALUES (replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));

-- The live link of a ticket's round is looked up at every mint.
CREATE INDEX review_links_live ON review_links (ticket_id, round, created_at) WHERE used_at IS NULL;
