-- Routing's read of a queue's free agents (`Store::candidate_agents`) walks `agents_free` in
-- order and stops at its limit; each agent it passes was also read from the `agents` table,
-- for `load < capacity` and the conditions the index already holds. With every column the
-- read names in the index, the table is not read at all. (On SQLite a read after a commit
-- starts with an empty page cache: each table row was a page read again.)
DROP INDEX agents_free;
CREATE INDEX agents_free ON agents (open_chats, free_since, id, load, capacity, presence, connected, has_offer)
    WHERE presence = 'available' AND connected = 1 AND has_offer = 0;
