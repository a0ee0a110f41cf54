//! Who gets a chat. Pure ordering rules; the store applies the same order in SQL to find
//! candidates quickly, and the decider re-checks the chosen pair before anything is written.

use crate::agent::Agent;
use crate::conversation::Conversation;
use crate::ids::{AgentId, ConversationId};
use crate::time::Timestamp;

/// The order of a queue: higher priority first, then the earliest place in line, then the id
/// (a stable tie break).
pub fn queue_key(conversation: &Conversation) -> (i32, Timestamp, ConversationId) {
    (
        -conversation.priority,
        conversation.front_at,
        conversation.id,
    )
}

/// The order among eligible agents: fewest open chats, then free longest, then the id.
pub fn agent_key(agent: &Agent) -> (usize, Timestamp, AgentId) {
    (agent.chats.len(), agent.free_since, agent.id)
}

/// The agent a chat should be offered to, among `agents` (the queue's agents).
pub fn pick_agent<'a>(agents: impl IntoIterator<Item = &'a Agent>) -> Option<&'a Agent> {
    agents
        .into_iter()
        .filter(|a| a.can_take_offer())
        .min_by_key(|a| agent_key(a))
}

/// The chat to offer next among `conversations` (a queue's), if any is waiting.
pub fn pick_conversation<'a>(
    conversations: impl IntoIterator<Item = &'a Conversation>,
) -> Option<&'a Conversation> {
    conversations
        .into_iter()
        .filter(|c| c.is_waiting())
        .min_by_key(|c| queue_key(c))
}
