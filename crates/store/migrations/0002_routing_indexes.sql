-- Routing reads the head of a queue's line and a queue's best free agents many times a
-- second. These indexes give both in the order routing wants, so neither is sorted.

-- The line: priority first (highest first), then place, then id (as `next_waiting` orders).
DROP INDEX conversations_line;
CREATE INDEX conversations_line ON conversations (queue_id, status, priority DESC, front_at, id);

-- Agents who could take an offer, fewest open chats first, then free longest.
CREATE INDEX agents_free ON agents (open_chats, free_since, id)
    WHERE presence = 'available' AND connected = 1 AND has_offer = 0;
