//! A cached copy of the configuration the engine consults on every decision (queues, assets,
//! the desktop profile, wrap-up reasons, templates). Local admin writes refresh it at once;
//! another node's writes are seen within `MAX_AGE`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
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
        let mut policy = self.base_policy();
        if let Some(q) = self.queues.get(&queue) {
            policy.offer_timeout = q.offer_timeout();
        }
        if let Some(a) = self.assets.get(&asset) {
            policy.inactivity_timeout = Millis::seconds(a.inactivity_timeout_secs as i64);
        }
        policy
    }

    /// The rules that do not depend on a conversation (agent timers).
    pub fn base_policy(&self) -> Policy {
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
    current: RwLock<(Arc<ConfigSnapshot>, Option<Instant>)>,
}

impl ConfigCache {
    pub fn new(store: Store) -> Self {
        ConfigCache {
            store,
            current: RwLock::new((Arc::new(ConfigSnapshot::default()), None)),
        }
    }

    /// The snapshot as cached, without reading the store (for code that cannot wait).
    pub fn current(&self) -> Arc<ConfigSnapshot> {
        self.current.read().unwrap().0.clone()
    }

    pub async fn get(&self) -> Result<Arc<ConfigSnapshot>, StoreError> {
        {
            let cur = self.current.read().unwrap();
            if cur.1.is_some_and(|at| at.elapsed() < MAX_AGE) {
                return Ok(cur.0.clone());
            }
        }
        self.reload().await
    }

    /// Reads everything again (after an admin write, or when stale).
    pub async fn reload(&self) -> Result<Arc<ConfigSnapshot>, StoreError> {
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
