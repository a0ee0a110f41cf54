//! Command ids as protocol.md recommends them: in time order. Each starts with the time it
//! was made (milliseconds since the Unix epoch, 12 hex digits, so that text order is time
//! order), and the server's index of message ids then grows at its right end instead of
//! taking a random page a message (docs/benchmarks.md, "Saturation measured again").

use std::time::{SystemTime, UNIX_EPOCH};

/// The length of the time prefix.
const PREFIX: usize = 12;

/// `tail` after the time prefix; `tail` is what makes the id unique for its sender.
pub fn new(tail: std::fmt::Arguments) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    format!("{ms:012x}{tail}")
}

/// What follows the time prefix of an id made by [`new`].
pub fn tail(id: &str) -> Option<&str> {
    id.get(PREFIX..)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_sort_by_time_and_keep_their_tail() {
        let a = super::new(format_args!("s{}", 9));
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = super::new(format_args!("s{}", 10));
        assert!(a < b, "{a} then {b}");
        assert_eq!(super::tail(&a), Some("s9"));
        assert_eq!(super::tail(&b), Some("s10"));
        assert_eq!(super::tail("short"), None);
    }
}
