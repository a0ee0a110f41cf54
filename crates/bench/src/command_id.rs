//! Command ids as protocol.md recommends them: in time order. Each starts with the time it
//! was made (milliseconds since the Unix epoch, 12 hex digits, so that text order is time
//! order), and the server's index of message ids then grows at its right end instead of
//! taking a random page a message (docs/benchmarks.md, "Saturation measured again"). After
//! the time come the sender's tag letter, its counter, and what else makes the id unique.

use std::time::{SystemTime, UNIX_EPOCH};

/// The length of the time prefix.
const PREFIX: usize = 12;

/// `<time><tag><n><suffix>`.
pub fn new(tag: char, n: u64, suffix: &str) -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    format!("{ms:012x}{tag}{n}{suffix}")
}

/// The counter of an id made by [`new`] with `tag`.
pub fn number(id: &str, tag: char) -> Option<u64> {
    let rest = id.get(PREFIX..)?.strip_prefix(tag)?;
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{new, number};

    #[test]
    fn ids_sort_by_time_and_keep_their_counter() {
        let a = new('s', 9, "");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new('s', 10, "");
        assert!(a < b, "{a} then {b}");
        assert_eq!(number(&a, 's'), Some(9));
        assert_eq!(number(&b, 's'), Some(10));
        assert_eq!(number(&new('k', 7, "-run"), 'k'), Some(7));
        assert_eq!(number(&a, 'k'), None);
        assert_eq!(number("short", 's'), None);
    }
}
