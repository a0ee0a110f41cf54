-- A message's command id is looked up by its sender and the id together, so the unique
-- index may list them in either order. With the sender first, every message landed on its
-- sender's own page of the index — one more random page written a message beside the log's
-- key (docs/benchmarks.md, "Saturation measured again"). With the id first, ids that sort by
-- time (a UUIDv7, a ULID, a fixed-width time prefix before a counter: protocol.md,
-- "Idempotency") are appended at the index's right end, where a batch's messages share a
-- page; other ids cost what they cost before, a page a message.
DROP INDEX events_client_id;
CREATE UNIQUE INDEX events_client_id ON events (client_id, client_scope) WHERE client_id IS NOT NULL;
