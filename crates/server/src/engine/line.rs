//! Places in line, for customers who wait. A queue's whole line is read once and shared by
//! every waiting customer of that queue for a moment, rather than each customer counting
//! the chats ahead of them (which costs O(waiting²) per change of the line).

use super::*;
use std::time::{Duration, Instant};

/// How long a read line is reused. Customers are told at most every 5 seconds anyway.
const FRESH_FOR: Duration = Duration::from_millis(500);

pub(crate) type Line = Arc<HashMap<ConversationId, u64>>;

#[derive(Default)]
pub(crate) struct Lines {
    read: Mutex<HashMap<QueueId, (Instant, Line)>>,
    /// One reader per node at a time; the others then find it fresh.
    reading: tokio::sync::Mutex<()>,
}

impl Engine {
    /// How many chats are ahead of this one in its queue (0: next), while it is in line.
    pub async fn position(&self, c: &Conversation) -> Result<Option<u64>, EngineError> {
        if !c.is_queued() {
            return Ok(None);
        }
        Ok(self.line(c.queue_id).await?.get(&c.id).copied())
    }

    async fn line(&self, queue: QueueId) -> Result<Line, EngineError> {
        if let Some(line) = self.fresh_line(queue) {
            return Ok(line);
        }
        let _reading = self.lines.reading.lock().await;
        if let Some(line) = self.fresh_line(queue) {
            return Ok(line);
        }
        let ids = self.store.queued_in(queue).await?;
        let line: Line = Arc::new(
            ids.into_iter()
                .enumerate()
                .map(|(i, id)| (id, i as u64))
                .collect(),
        );
        self.lines
            .read
            .lock()
            .unwrap()
            .insert(queue, (Instant::now(), line.clone()));
        Ok(line)
    }

    /// The line of this queue changed: the next reader reads it again.
    pub(crate) fn line_changed(&self, queue: QueueId) {
        self.lines.read.lock().unwrap().remove(&queue);
    }

    fn fresh_line(&self, queue: QueueId) -> Option<Line> {
        let read = self.lines.read.lock().unwrap();
        read.get(&queue)
            .filter(|(at, _)| at.elapsed() < FRESH_FOR)
            .map(|(_, line)| line.clone())
    }
}
