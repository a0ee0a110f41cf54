//! Opening and migrating; configuration: catalog entries, queues, the desktop profile,
//! accounts.

use sqlx::{Connection, Row};
use switchboard_core::config::{Account, DesktopProfile, IdleCode, Queue, Role, WrapUpReason};
use switchboard_core::{AgentId, IdleCodeId, Presence, QueueId, WrapUpReasonId};
use switchboard_store::{CatalogKind, Store, StoreError};

use super::fixtures::*;

/// (number of rows, highest version) in `schema_migrations`, read behind the store's back.
async fn migrations_recorded(url: &str) -> (i64, i64) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    let row = sqlx::query("SELECT COUNT(*), MAX(version) FROM schema_migrations")
        .fetch_one(&mut conn)
        .await
        .expect("read schema_migrations");
    let recorded = (row.try_get(0).unwrap(), row.try_get(1).unwrap());
    conn.close().await.unwrap();
    recorded
}

pub async fn migrations_run_on_open_and_reopening_is_a_no_op(store: Store, url: String) {
    store.ping().await.expect("ping");
    // Every table the schema makes is there and empty.
    assert!(store.accounts().await.unwrap().is_empty());
    assert_eq!(store.next_deadline().await.unwrap(), None);
    let (count, latest) = migrations_recorded(&url).await;
    assert_eq!(count, latest, "each migration recorded once");
    assert!(latest >= 1);

    let id = new_account(&store, "Ann", 3, at(1_000)).await;

    // A second open (another process, a restart) finds the schema current and changes nothing.
    let again = Store::open(&url).await.expect("second open");
    assert_eq!(again.backend(), store.backend());
    assert_eq!(migrations_recorded(&url).await, (count, latest));
    let account = again.account(id).await.unwrap().expect("data kept");
    assert_eq!(account.name, "Ann");
    again.close().await;
}

/// Every table the migrations make, dropped behind the store's back: the database is then
/// as new.
async fn drop_schema(url: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    for table in [
        "settings",
        "catalog",
        "queue_agents",
        "agents",
        "agent_events",
        "conversations",
        "events",
        "commands",
        "sessions",
        "nodes",
        "connections",
        "schema_migrations",
    ] {
        sqlx::query(&format!("DROP TABLE IF EXISTS {table}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("dropping {table}: {e}"));
    }
    conn.close().await.unwrap();
}

/// Several nodes of a cluster starting at once on a new database: every one comes up, and
/// each migration is applied once.
pub async fn concurrent_opens_of_a_fresh_database_both_succeed(store: Store, url: String) {
    store.close().await;
    drop_schema(&url).await;
    let (a, b, c) = tokio::join!(Store::open(&url), Store::open(&url), Store::open(&url));
    let (a, b, c) = (
        a.expect("first open"),
        b.expect("second open"),
        c.expect("third open"),
    );
    let (count, latest) = migrations_recorded(&url).await;
    assert_eq!(count, latest, "each migration recorded once");
    let id = new_account(&a, "Ann", 3, at(1_000)).await;
    assert!(b.account(id).await.unwrap().is_some());
    assert!(c.account(id).await.unwrap().is_some());
    for s in [a, b, c] {
        s.close().await;
    }
}

pub async fn catalog_put_get_list_delete(store: Store, _url: String) {
    let waiting = IdleCode {
        id: IdleCodeId::new(),
        name: "Lunch".into(),
    };
    let training = IdleCode {
        id: IdleCodeId::new(),
        name: "Coaching".into(),
    };
    for code in [&waiting, &training] {
        store
            .put_entry(
                CatalogKind::IdleCode,
                &code.id.to_string(),
                &code.name,
                code,
            )
            .await
            .unwrap();
    }
    let got: Option<IdleCode> = store
        .entry(CatalogKind::IdleCode, &waiting.id.to_string())
        .await
        .unwrap();
    assert_eq!(got.as_ref(), Some(&waiting));
    let by_name: Option<IdleCode> = store
        .entry_by_name(CatalogKind::IdleCode, "Coaching")
        .await
        .unwrap();
    assert_eq!(by_name.as_ref(), Some(&training));
    let missing: Option<IdleCode> = store
        .entry(CatalogKind::IdleCode, &IdleCodeId::new().to_string())
        .await
        .unwrap();
    assert_eq!(missing, None);
    // Kinds are apart: an idle code is not a wrap-up reason.
    let other_kind: Option<IdleCode> = store
        .entry(CatalogKind::WrapUpReason, &waiting.id.to_string())
        .await
        .unwrap();
    assert_eq!(other_kind, None);

    // Listed by name.
    let all: Vec<IdleCode> = store.entries(CatalogKind::IdleCode).await.unwrap();
    assert_eq!(all, vec![training.clone(), waiting.clone()]);
    assert!(store
        .entries::<WrapUpReason>(CatalogKind::WrapUpReason)
        .await
        .unwrap()
        .is_empty());

    // Replacing by id renames in place.
    let renamed = IdleCode {
        name: "Break".into(),
        ..waiting.clone()
    };
    store
        .put_entry(
            CatalogKind::IdleCode,
            &renamed.id.to_string(),
            &renamed.name,
            &renamed,
        )
        .await
        .unwrap();
    let all: Vec<IdleCode> = store.entries(CatalogKind::IdleCode).await.unwrap();
    assert_eq!(all, vec![renamed.clone(), training.clone()]);
    assert_eq!(
        store
            .entry_by_name::<IdleCode>(CatalogKind::IdleCode, "Lunch")
            .await
            .unwrap(),
        None
    );

    // Deleted entries are invisible everywhere, and deleting twice says so.
    let id = renamed.id.to_string();
    assert!(store
        .delete_entry(CatalogKind::IdleCode, &id, at(5_000))
        .await
        .unwrap());
    assert!(!store
        .delete_entry(CatalogKind::IdleCode, &id, at(6_000))
        .await
        .unwrap());
    assert!(!store
        .delete_entry(
            CatalogKind::IdleCode,
            &IdleCodeId::new().to_string(),
            at(6_000)
        )
        .await
        .unwrap());
    assert_eq!(
        store
            .entry::<IdleCode>(CatalogKind::IdleCode, &id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .entry_by_name::<IdleCode>(CatalogKind::IdleCode, "Break")
            .await
            .unwrap(),
        None
    );
    let all: Vec<IdleCode> = store.entries(CatalogKind::IdleCode).await.unwrap();
    assert_eq!(all, vec![training]);
}

pub async fn catalog_names_are_unique_among_live_entries(store: Store, _url: String) {
    let first = WrapUpReason {
        id: WrapUpReasonId::new(),
        name: "Sold".into(),
    };
    store
        .put_entry(
            CatalogKind::WrapUpReason,
            &first.id.to_string(),
            &first.name,
            &first,
        )
        .await
        .unwrap();
    let clash = WrapUpReason {
        id: WrapUpReasonId::new(),
        name: "Sold".into(),
    };
    let err = store
        .put_entry(
            CatalogKind::WrapUpReason,
            &clash.id.to_string(),
            &clash.name,
            &clash,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Taken("name")), "got {err:?}");
    // The refused entry left no trace.
    assert_eq!(
        store
            .entry::<WrapUpReason>(CatalogKind::WrapUpReason, &clash.id.to_string())
            .await
            .unwrap(),
        None
    );
    // Renaming another entry onto a taken name is refused the same way.
    let second = WrapUpReason {
        id: WrapUpReasonId::new(),
        name: "Not sold".into(),
    };
    store
        .put_entry(
            CatalogKind::WrapUpReason,
            &second.id.to_string(),
            &second.name,
            &second,
        )
        .await
        .unwrap();
    let err = store
        .put_entry(
            CatalogKind::WrapUpReason,
            &second.id.to_string(),
            "Sold",
            &second,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Taken("name")), "got {err:?}");
    // Names are unique per kind only.
    let code = IdleCode {
        id: IdleCodeId::new(),
        name: "Sold".into(),
    };
    store
        .put_entry(
            CatalogKind::IdleCode,
            &code.id.to_string(),
            &code.name,
            &code,
        )
        .await
        .unwrap();

    // Once deleted, the name is free again.
    assert!(store
        .delete_entry(CatalogKind::WrapUpReason, &first.id.to_string(), at(1_000))
        .await
        .unwrap());
    store
        .put_entry(
            CatalogKind::WrapUpReason,
            &clash.id.to_string(),
            &clash.name,
            &clash,
        )
        .await
        .unwrap();
    let live: Vec<WrapUpReason> = store.entries(CatalogKind::WrapUpReason).await.unwrap();
    assert_eq!(live, vec![second, clash.clone()]);
    assert_eq!(
        store
            .entry_by_name::<WrapUpReason>(CatalogKind::WrapUpReason, "Sold")
            .await
            .unwrap(),
        Some(clash)
    );
}

fn queue(name: &str, agents: Vec<AgentId>) -> Queue {
    Queue {
        id: QueueId::new(),
        name: name.into(),
        offer_timeout_secs: 20,
        priority: 3,
        agent_ids: agents,
    }
}

fn sorted(mut ids: Vec<QueueId>) -> Vec<QueueId> {
    ids.sort();
    ids
}

pub async fn queues_and_their_members(store: Store, _url: String) {
    let (ann, bob, cid) = (AgentId::new(), AgentId::new(), AgentId::new());
    let sales = queue("Sales", vec![ann, bob]);
    let support = queue("Support", vec![bob]);
    store.put_queue(&sales).await.unwrap();
    store.put_queue(&support).await.unwrap();

    assert_eq!(store.queues_of_agent(ann).await.unwrap(), vec![sales.id]);
    assert_eq!(
        sorted(store.queues_of_agent(bob).await.unwrap()),
        sorted(vec![sales.id, support.id])
    );
    assert!(store.queues_of_agent(cid).await.unwrap().is_empty());
    let got: Option<Queue> = store
        .entry(CatalogKind::Queue, &sales.id.to_string())
        .await
        .unwrap();
    assert_eq!(got.as_ref(), Some(&sales));
    let all: Vec<Queue> = store.entries(CatalogKind::Queue).await.unwrap();
    assert_eq!(all, vec![sales.clone(), support.clone()]);

    // Saving a queue replaces its membership: a member kept stays, one left out goes, a new
    // one comes (a duplicate in the list is harmless).
    let sales = Queue {
        agent_ids: vec![ann, cid, cid],
        ..sales
    };
    store.put_queue(&sales).await.unwrap();
    assert_eq!(store.queues_of_agent(ann).await.unwrap(), vec![sales.id]);
    assert_eq!(store.queues_of_agent(bob).await.unwrap(), vec![support.id]);
    assert_eq!(store.queues_of_agent(cid).await.unwrap(), vec![sales.id]);

    // A queue's name is unique among live queues, and a refused save changes nothing.
    let clash = queue("Support", vec![ann]);
    let err = store.put_queue(&clash).await.unwrap_err();
    assert!(matches!(err, StoreError::Taken("name")), "got {err:?}");
    assert_eq!(store.queues_of_agent(ann).await.unwrap(), vec![sales.id]);

    // Deleting a queue removes its membership; its name can be used again.
    assert!(store.delete_queue(support.id, at(9_000)).await.unwrap());
    assert!(!store.delete_queue(support.id, at(9_500)).await.unwrap());
    assert!(store.queues_of_agent(bob).await.unwrap().is_empty());
    assert_eq!(
        store
            .entry::<Queue>(CatalogKind::Queue, &support.id.to_string())
            .await
            .unwrap(),
        None
    );
    store.put_queue(&clash).await.unwrap();
    assert_eq!(
        sorted(store.queues_of_agent(ann).await.unwrap()),
        sorted(vec![sales.id, clash.id])
    );
    let all: Vec<Queue> = store.entries(CatalogKind::Queue).await.unwrap();
    assert_eq!(all, vec![sales, clash]);

    // A queue with more members than one statement names is saved the same way.
    let many: Vec<AgentId> = (0..1_200).map(|_| AgentId::new()).collect();
    let big = queue("Big", many.clone());
    store.put_queue(&big).await.unwrap();
    let big = Queue {
        agent_ids: many[1..].to_vec(),
        ..big
    };
    store.put_queue(&big).await.unwrap();
    assert!(store.queues_of_agent(many[0]).await.unwrap().is_empty());
    assert_eq!(store.queues_of_agent(many[1]).await.unwrap(), vec![big.id]);
    assert_eq!(
        store.queues_of_agent(many[1_199]).await.unwrap(),
        vec![big.id]
    );
}

pub async fn desktop_profile_default_and_round_trip(store: Store, _url: String) {
    assert_eq!(
        store.desktop_profile().await.unwrap(),
        DesktopProfile::default()
    );
    let profile = DesktopProfile {
        mask_sensitive_data: true,
        redact_payment_at_rest: true,
        auto_wrapup_secs: Some(45),
        default_wrapup_reason_id: Some(WrapUpReasonId::new()),
        default_capacity: 5,
        signout_grace_secs: 60,
        customer_grace_secs: 90,
        phone_region: Some("DE".into()),
    };
    store.put_desktop_profile(&profile).await.unwrap();
    assert_eq!(store.desktop_profile().await.unwrap(), profile);
    let changed = DesktopProfile {
        auto_wrapup_secs: None,
        default_capacity: 2,
        ..profile
    };
    store.put_desktop_profile(&changed).await.unwrap();
    assert_eq!(store.desktop_profile().await.unwrap(), changed);
}

pub async fn accounts_create_duplicate_lookup_update(store: Store, _url: String) {
    let ann = Account {
        id: AgentId::new(),
        email: "Ann.Lee@Example.com".into(),
        name: "Ann Lee".into(),
        role: Role::Supervisor,
        capacity: 4,
    };
    store
        .create_account(&ann, "hash-1", at(1_000))
        .await
        .unwrap();
    let stored = store.account(ann.id).await.unwrap().expect("account");
    assert_eq!(
        stored.email, "ann.lee@example.com",
        "emails are kept lower-case"
    );
    assert_eq!(
        stored,
        Account {
            email: "ann.lee@example.com".into(),
            ..ann.clone()
        }
    );
    assert_eq!(store.account(AgentId::new()).await.unwrap(), None);

    // The account comes with its first snapshot: logged out, no chats, version 0.
    let row = agent_row(&store, ann.id).await;
    assert_eq!(row.version, 0);
    assert_eq!(row.state.id, ann.id);
    assert_eq!(row.state.presence, Presence::LoggedOut);
    assert_eq!(row.state.capacity, 4);
    assert_eq!(row.state.load(), 0);
    assert!(store.agent(AgentId::new()).await.unwrap().is_none());

    // An email is one account's, whatever its case.
    let twin = Account {
        id: AgentId::new(),
        email: "ANN.LEE@example.COM".into(),
        name: "Someone else".into(),
        role: Role::Agent,
        capacity: 3,
    };
    let err = store
        .create_account(&twin, "hash-2", at(2_000))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Taken("email")), "got {err:?}");
    assert!(store.account(twin.id).await.unwrap().is_none());

    // Sign-in lookup: case and surrounding blanks do not matter.
    let (found, hash) = store
        .credentials("  ANN.lee@example.com ")
        .await
        .unwrap()
        .expect("credentials");
    assert_eq!(found.id, ann.id);
    assert_eq!(hash, "hash-1");
    assert!(store
        .credentials("nobody@example.com")
        .await
        .unwrap()
        .is_none());

    // Updates: name, email and role; the old email no longer signs in.
    let bob = Account {
        id: AgentId::new(),
        email: "bob@example.com".into(),
        name: "Bob".into(),
        role: Role::Agent,
        capacity: 3,
    };
    store
        .create_account(&bob, "hash-b", at(3_000))
        .await
        .unwrap();
    let ann2 = Account {
        email: "Ann@Example.org".into(),
        name: "Ann Lee-Smith".into(),
        role: Role::Administrator,
        ..ann.clone()
    };
    assert!(store.update_account(&ann2).await.unwrap());
    let (found, _) = store
        .credentials("ann@example.org")
        .await
        .unwrap()
        .expect("new email");
    assert_eq!(found.name, "Ann Lee-Smith");
    assert_eq!(found.role, Role::Administrator);
    assert!(store
        .credentials("ann.lee@example.com")
        .await
        .unwrap()
        .is_none());
    // Taking another account's email is refused.
    let err = store
        .update_account(&Account {
            email: "BOB@example.com".into(),
            ..ann2.clone()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Taken("email")), "got {err:?}");
    assert_eq!(
        store.account(ann.id).await.unwrap().unwrap().email,
        "ann@example.org"
    );
    // An unknown account is not updated.
    assert!(!store
        .update_account(&Account {
            id: AgentId::new(),
            ..bob.clone()
        })
        .await
        .unwrap());

    assert!(store.set_password_hash(bob.id, "hash-b2").await.unwrap());
    assert!(!store.set_password_hash(AgentId::new(), "x").await.unwrap());
    let (_, hash) = store.credentials("bob@example.com").await.unwrap().unwrap();
    assert_eq!(hash, "hash-b2");

    // Listed by name.
    let names: Vec<String> = store
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, vec!["Ann Lee-Smith", "Bob"]);
}
