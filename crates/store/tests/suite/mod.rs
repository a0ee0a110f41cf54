//! The test bodies of the store suite. Each is `async fn NAME(store: Store, url: String)`:
//! `store` is a fresh, migrated store on one backend, `url` the address it was opened with.
//! `tests/store.rs` instantiates every body once per backend.

mod catalog;
mod concurrency;
mod conversations;
mod fixtures;
mod housekeeping;
mod routing;
mod sqlite_wal;

pub use catalog::*;
pub use concurrency::*;
pub use conversations::*;
pub use housekeeping::*;
pub use routing::*;
pub use sqlite_wal::*;
