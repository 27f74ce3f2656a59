//! The driver when its journal cannot be written (a full disk, a record over the
//! store's limit): it says so at once, stops acting, pages, and either recovers
//! when an append succeeds again or ends with an error (the process exits
//! non-zero). Never a silent death with a frozen status.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use ward_core::engine::{Command, Engine, HoldTarget, Mode};
use ward_core::ids::NodeId;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, ServiceKind, Snapshot};
use ward_core::journal::{JournalEvent, JournalRecord};
use ward_daemon::driver::{now_ms, Driver, Event, Journal};
use ward_daemon::inventory_source::ReadOutcome;
use ward_daemon::metrics::Counters;

#[derive(Default)]
struct FlakyJournal {
    failing: AtomicBool,
    records: Mutex<Vec<JournalRecord>>,
}

impl Journal for FlakyJournal {
    fn append(&self, records: &[JournalRecord]) -> Result<(), String> {
        if self.failing.load(Ordering::SeqCst) {
            return Err("ward.redb: cannot commit journal records: No space left on device (os error 28)".into());
        }
        self.records.lock().map_err(|e| e.to_string())?.extend_from_slice(records);
        Ok(())
    }
}

fn snapshot() -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new();
    let site = b.site("dc1");
    b.observer("ctl", site);
    let nodes: Vec<NodeId> = ["web1", "web2"].iter().map(|n| b.node(n, site, &[("role", "web")])).collect();
    b.check("http", CheckKind::Http, &nodes, 1, 2);
    b.service("www", ServiceKind::Vip, "web", &nodes, &nodes[0..1]);
    Arc::new(b.build())
}

struct Harness {
    events: mpsc::Sender<Event>,
    counters: Arc<Counters>,
    pages: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<Result<(), String>>,
    // Kept open so the driver's effects have somewhere to go.
    _jobs: mpsc::Receiver<ward_core::engine::JobRequest>,
    _notifications: mpsc::Receiver<ward_core::engine::Notification>,
}

fn start(journal: Arc<dyn Journal>, exit_after: Duration) -> Harness {
    let snapshot = snapshot();
    let now = now_ms();
    let engine = Engine::new(snapshot.clone(), Mode::Guarded, now);
    let (events_tx, events_rx) = mpsc::channel(64);
    let (jobs_tx, jobs_rx) = mpsc::channel(64);
    let (notify_tx, notify_rx) = mpsc::channel(64);
    let (view_tx, _) = watch::channel(Arc::new(ward_daemon::view::build(&engine, "ctl", now, now)));
    let (snapshot_tx, _) = watch::channel(snapshot);
    let counters = Arc::new(Counters::default());
    let pages = Arc::new(Mutex::new(Vec::new()));
    let paged = pages.clone();
    let driver = Driver {
        engine,
        journal,
        events: events_rx,
        jobs: jobs_tx,
        notifications: notify_tx,
        view: view_tx,
        snapshot: snapshot_tx,
        counters: counters.clone(),
        controller: "ctl".into(),
        started_at_ms: now,
        on_halt: Some(Box::new(move |error| paged.lock().expect("pages").push(error))),
        halt_exit_after: exit_after,
        held: Default::default(),
    };
    let task = tokio::spawn(driver.run());
    Harness { events: events_tx, counters, pages, task, _jobs: jobs_rx, _notifications: notify_rx }
}

async fn hold(events: &mpsc::Sender<Event>, node: &str) -> oneshot::Receiver<Result<String, String>> {
    let (reply, answer) = oneshot::channel();
    let command =
        Command::Hold { target: HoldTarget::Node(node.into()), author: "test".into(), reason: "maintenance".into(), until_ms: None };
    events.send(Event::Command { command, reply }).await.expect("the driver takes commands");
    answer
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..100 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn a_failed_append_stops_acting_pages_and_recovers_when_the_disk_does() {
    let journal = Arc::new(FlakyJournal::default());
    let h = start(journal.clone(), Duration::from_secs(60));
    eventually("the Started record", || !journal.records.lock().expect("records").is_empty()).await;

    journal.failing.store(true, Ordering::SeqCst);
    let first = hold(&h.events, "web2").await;
    eventually("the driver to notice", || h.counters.journal.failing().is_some()).await;
    let sentence = h.counters.journal.sentence().expect("a sentence for /v1/status");
    assert!(sentence.contains("stopped acting") && sentence.contains("No space left"), "{sentence}");
    assert_eq!(h.pages.lock().expect("pages").len(), 1, "one page through every route");

    // While halted, a command is refused at once, with the reason.
    let refused = hold(&h.events, "web1").await;
    let answer = tokio::time::timeout(Duration::from_secs(2), refused).await.expect("an answer at once").expect("reply");
    assert!(answer.as_ref().is_err_and(|e| e.contains("cannot write its journal")), "{answer:?}");
    assert!(!h.task.is_finished(), "the driver keeps running while it retries");

    // Space comes back: the held records are written, the first command answered.
    journal.failing.store(false, Ordering::SeqCst);
    let answer = tokio::time::timeout(Duration::from_secs(5), first).await.expect("the held command is answered").expect("reply");
    assert!(answer.is_ok(), "{answer:?}");
    assert!(h.counters.journal.failing().is_none(), "acting again");
    let records = journal.records.lock().expect("records").clone();
    let holds: Vec<_> = records.iter().filter(|r| matches!(&r.event, JournalEvent::HoldPlaced { .. })).collect();
    assert_eq!(holds.len(), 1, "the hold taken before the failure is durable once, the refused one never: {records:?}");

    h.events.send(Event::Shutdown).await.expect("shutdown");
    assert_eq!(tokio::time::timeout(Duration::from_secs(5), h.task).await.expect("stops").expect("no panic"), Ok(()));
}

#[tokio::test]
async fn a_journal_that_stays_unwritable_ends_the_driver_with_an_error() {
    let journal = Arc::new(FlakyJournal::default());
    journal.failing.store(true, Ordering::SeqCst);
    let h = start(journal, Duration::from_secs(1));
    let ended = tokio::time::timeout(Duration::from_secs(10), h.task).await.expect("the driver gives up").expect("no panic");
    let error = ended.expect_err("an error, for a non-zero exit");
    assert!(error.contains("could not be written") && error.contains("No space left"), "{error}");
    assert_eq!(h.pages.lock().expect("pages").len(), 1);
}

#[tokio::test]
async fn an_inventory_with_thousands_of_errors_is_journaled_capped() {
    // The real store, whose record limit a full error list would exceed.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(ward_store::Store::open(dir.path()).expect("open"));
    let h = start(store.clone(), Duration::from_secs(60));
    let errors: Vec<String> = (0..30_000)
        .map(|i| {
            format!("inventory.toml:{i}:1: node.site: site \"nosuch\" is not defined; token http://u:secret@h:1/x?k=v {}", "x".repeat(200))
        })
        .collect();
    h.events.send(Event::Inventory(ReadOutcome::Rejected(errors), "inventory.toml".into())).await.expect("send");
    let rejected = |store: &ward_store::Store| {
        store.journal().expect("read").into_iter().find_map(|r| match r.event {
            JournalEvent::InventoryRejected { errors, .. } => Some(errors),
            _ => None,
        })
    };
    eventually("the rejection in the journal", || rejected(&store).is_some()).await;
    let errors = rejected(&store).expect("rejection");
    assert_eq!(errors.len(), ward_daemon::limits::INVENTORY_ERRORS_JOURNALED_MAX + 1);
    assert!(errors.last().is_some_and(|e| e.contains("29950 more")), "{:?}", errors.last());
    assert!(errors.iter().all(|e| !e.contains("secret")), "URLs are redacted");
    assert!(h.counters.journal.failing().is_none());
    // Still deciding: a command works.
    let answer = tokio::time::timeout(Duration::from_secs(5), hold(&h.events, "web2").await).await.expect("answer").expect("reply");
    assert!(answer.is_ok(), "{answer:?}");
    assert!(!h.task.is_finished());
}
