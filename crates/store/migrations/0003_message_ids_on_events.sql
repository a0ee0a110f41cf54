-- A message's command id is kept on its event row instead of in `commands`: one row and two
-- B-trees fewer for each message written (the `commands` row, its key and its `at` index).
-- Only message events carry one; the partial index holds only those, and keeps an id unique
-- within its sender's scope as the `commands` key does. These ids are not pruned: they stay
-- with the message. (Both tables are checked for a taken id: see `crates/store/src/commit.rs`.)
ALTER TABLE events ADD COLUMN client_scope TEXT;
ALTER TABLE events ADD COLUMN client_id TEXT;
ALTER TABLE events ADD COLUMN fingerprint TEXT;
ALTER TABLE events ADD COLUMN response TEXT;
CREATE UNIQUE INDEX events_client_id ON events (client_scope, client_id) WHERE client_id IS NOT NULL;
