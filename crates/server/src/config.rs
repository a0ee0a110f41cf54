//! A cached copy of the configuration the engine consults on every decision (queues, assets,
//! the desktop profile, wrap-up reasons, templates). Local admin writes refresh it at once;
//! another node's writes are seen within `MAX_AGE` (and the time one reading of it takes).
//!
//! Reading it is six queries, and every command asks for it: when the copy grew stale, each
//! command that asked before the new copy was in used to read it again itself — at 5,000
//! messages/s, 20–30 readings every 2 s instead of one, each command among them waiting for six
//! queries. Now one caller reads while the others go on with the copy they have.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};
use switchboard_core::config::*;
use switchboard_core::policy::{Policy, WrapUpChoice};
use switchboard_core::*;
use switchboard_mask::{MaskConfig, Masker};
use switchboard_store::{CatalogKind, Store, StoreError};

const MAX_AGE: Duration = Duration::from_secs(2);

pub struct ConfigSnapshot {
    pub profile: DesktopProfile,
    pub assets: HashMap<AssetId, Asset>,
    pub queues: HashMap<QueueId, Queue>,
    pub wrapup_reasons: HashMap<WrapUpReasonId, WrapUpReason>,
    pub idle_codes: HashMap<IdleCodeId, IdleCode>,
    pub templates: HashMap<String, Template>,
    /// Detects customer sensitive data, for the profile's phone region.
    pub masker: Arc<Masker>,
    /// `base_policy`, made on first use (every command asks for it, some twice).
    base: OnceLock<Policy>,
}

impl Default for ConfigSnapshot {
    fn default() -> Self {
        ConfigSnapshot {
            profile: DesktopProfile::default(),
            assets: HashMap::new(),
            queues: HashMap::new(),
            wrapup_reasons: HashMap::new(),
            idle_codes: HashMap::new(),
            templates: HashMap::new(),
            masker: Arc::new(Masker::default()),
            base: OnceLock::new(),
        }
    }
}

impl ConfigSnapshot {
    /// The masker for what agents and supervisors see, if masking is on.
    pub fn agent_masker(&self) -> Option<&Masker> {
        self.profile
            .mask_sensitive_data
            .then_some(self.masker.as_ref())
    }

    /// The masker for payment data before it is stored, if that is on.
    pub fn redactor(&self) -> Option<&Masker> {
        self.profile
            .redact_payment_at_rest
            .then_some(self.masker.as_ref())
    }

    /// The rules in force for a conversation: the profile's, its queue's and its asset's.
    pub fn policy_for(&self, queue: QueueId, asset: AssetId) -> Policy {
        let mut policy = self.base_policy().clone();
        if let Some(q) = self.queues.get(&queue) {
            policy.offer_timeout = q.offer_timeout();
        }
        if let Some(a) = self.assets.get(&asset) {
            policy.inactivity_timeout = Millis::seconds(a.inactivity_timeout_secs as i64);
        }
        policy
    }

    /// The rules that do not depend on a conversation (agent timers).
    pub fn base_policy(&self) -> &Policy {
        self.base.get_or_init(|| self.make_base_policy())
    }

    fn make_base_policy(&self) -> Policy {
        let p = &self.profile;
        let mut policy = Policy {
            customer_grace: Millis::seconds(p.customer_grace_secs as i64),
            signout_grace: Millis::seconds(p.signout_grace_secs as i64),
            auto_wrapup_after: p.auto_wrapup_secs.map(|s| Millis::seconds(s as i64)),
            ..Policy::default()
        };
        if let Some(reason) = p
            .default_wrapup_reason_id
            .and_then(|id| self.wrapup_reasons.get(&id))
        {
            policy.default_wrapup = WrapUpChoice {
                id: reason.id,
                name: reason.name.clone(),
            };
        }
        policy
    }
}

pub struct ConfigCache {
    store: Store,
    /// The copy and when it was read (`None`: never yet).
    current: RwLock<(Arc<ConfigSnapshot>, Option<Instant>)>,
    /// Held while the configuration is read, so that one reading runs at a time and the last
    /// one to finish is also the last one to start (an admin write's own reading is never
    /// overwritten by an older one).
    reading: tokio::sync::Mutex<()>,
    readings: AtomicU64,
}

impl ConfigCache {
    pub fn new(store: Store) -> Self {
        ConfigCache {
            store,
            current: RwLock::new((Arc::new(ConfigSnapshot::default()), None)),
            reading: tokio::sync::Mutex::new(()),
            readings: AtomicU64::new(0),
        }
    }

    /// How many times the configuration has been read from the store.
    pub fn readings(&self) -> u64 {
        self.readings.load(Ordering::Relaxed)
    }

    /// The snapshot as cached, without reading the store (for code that cannot wait).
    pub fn current(&self) -> Arc<ConfigSnapshot> {
        self.current.read().unwrap().0.clone()
    }

    /// The configuration, read again if the copy is older than `MAX_AGE`: by this caller if
    /// no one else is reading it; otherwise this caller goes on with the stale copy.
    pub async fn get(&self) -> Result<Arc<ConfigSnapshot>, StoreError> {
        let (copy, read_at) = self.current.read().unwrap().clone();
        let fresh = |at: Option<Instant>| at.is_some_and(|at| at.elapsed() < MAX_AGE);
        if fresh(read_at) {
            return Ok(copy);
        }
        let _reading = match self.reading.try_lock() {
            Ok(guard) => guard,
            // Someone is reading it: their copy will do for the next caller.
            Err(_) if read_at.is_some() => return Ok(copy),
            // Never read yet: there is no copy to go on with.
            Err(_) => self.reading.lock().await,
        };
        // Whoever held the lock before may have just read it.
        let (copy, read_at) = self.current.read().unwrap().clone();
        if fresh(read_at) {
            return Ok(copy);
        }
        self.read_all().await
    }

    /// Reads everything again now (after an admin write: the next decision must see it).
    pub async fn reload(&self) -> Result<Arc<ConfigSnapshot>, StoreError> {
        let _reading = self.reading.lock().await;
        self.read_all().await
    }

    /// Reads the configuration and keeps it; the caller holds `reading`.
    async fn read_all(&self) -> Result<Arc<ConfigSnapshot>, StoreError> {
        self.readings.fetch_add(1, Ordering::Relaxed);
        let s = &self.store;
        let profile = s.desktop_profile().await?;
        let masker = {
            let previous = self.current();
            if previous.masker.default_region() == profile.phone_region.as_deref() {
                previous.masker.clone()
            } else {
                let config = MaskConfig {
                    default_region: profile.phone_region.clone(),
                };
                // The region is checked when the profile is saved; fall back to none.
                Arc::new(Masker::new(&config).unwrap_or_default())
            }
        };
        let snapshot = Arc::new(ConfigSnapshot {
            base: OnceLock::new(),
            masker,
            profile,
            assets: s
                .entries::<Asset>(CatalogKind::Asset)
                .await?
                .into_iter()
                .map(|a| (a.id, a))
                .collect(),
            queues: s
                .entries::<Queue>(CatalogKind::Queue)
                .await?
                .into_iter()
                .map(|q| (q.id, q))
                .collect(),
            wrapup_reasons: s
                .entries::<WrapUpReason>(CatalogKind::WrapUpReason)
                .await?
                .into_iter()
                .map(|r| (r.id, r))
                .collect(),
            idle_codes: s
                .entries::<IdleCode>(CatalogKind::IdleCode)
                .await?
                .into_iter()
                .map(|c| (c.id, c))
                .collect(),
            templates: s
                .entries::<Template>(CatalogKind::Template)
                .await?
                .into_iter()
                .map(|t| (t.name.clone(), t))
                .collect(),
        });
        *self.current.write().unwrap() = (snapshot.clone(), Some(Instant::now()));
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn cache() -> (ConfigCache, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("sb-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("sb.db").display());
        let store = Store::open(&url).await.expect("store opens");
        (ConfigCache::new(store), dir)
    }

    impl ConfigCache {
        /// Makes the copy as old as `MAX_AGE`.
        fn age(&self) {
            let mut current = self.current.write().unwrap();
            current.1 = Instant::now().checked_sub(MAX_AGE);
        }
    }

    /// Many commands asking at once for a stale configuration read it once between them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stale_copy_is_read_again_once_however_many_ask() {
        let (cache, dir) = cache().await;
        let cache = Arc::new(cache);
        cache.get().await.unwrap();
        cache.get().await.unwrap();
        assert_eq!(cache.readings(), 1, "a fresh copy is not read again");

        cache.age();
        let askers: Vec<_> = (0..50)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get().await.map(|_| ()) })
            })
            .collect();
        for asker in askers {
            asker.await.unwrap().unwrap();
        }
        assert_eq!(cache.readings(), 2, "one reading for all fifty");
        cache.get().await.unwrap();
        assert_eq!(cache.readings(), 2, "and the copy it read is fresh");

        // After an admin write the configuration is read at once, fresh or not.
        cache.reload().await.unwrap();
        assert_eq!(cache.readings(), 3);
        cache.store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    /// Before the first reading there is no copy to go on with: everyone waits for it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_first_reading_is_waited_for() {
        let (cache, dir) = cache().await;
        let cache = Arc::new(cache);
        let askers: Vec<_> = (0..20)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.get().await })
            })
            .collect();
        let mut got = Vec::new();
        for asker in askers {
            got.push(asker.await.unwrap().unwrap());
        }
        assert_eq!(cache.readings(), 1);
        // Each got the copy that was read, none the empty one the cache starts with.
        let read = cache.current();
        assert!(got.iter().all(|c| Arc::ptr_eq(c, &read)));
        cache.store.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
