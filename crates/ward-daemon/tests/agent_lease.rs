//! `POST /v1/agent/lease` through the real router and driver: only the agent token
//! renews a lease, and the agent token does nothing else; `/v1/status` says per
//! primary whether it can fail over without a person if its host stops answering;
//! an agent never heard from is alerted and its primary shown as needing approval.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};
use ward_core::agent::{LeaseAnswer, LeaseRequest, PeerReport};
use ward_core::engine::{Engine, Mode};
use ward_core::ids::NodeId;
use ward_core::inventory::testing::InventoryBuilder;
use ward_core::inventory::{CheckKind, ServiceKind, Snapshot};
use ward_core::journal::JournalRecord;
use ward_daemon::api::{self, AppState, JournalReader, Tokens};
use ward_daemon::driver::{now_ms, Driver, Event, Journal};
use ward_daemon::metrics::Counters;

const OPERATOR: &str = "operator-token-0123456789";
const OBSERVER: &str = "observer-token-0123456789";
const AGENT: &str = "agent-token-0123456789abc";

#[derive(Default)]
struct MemoryJournal {
    records: Mutex<Vec<JournalRecord>>,
}

impl Journal for MemoryJournal {
    fn append(&self, records: &[JournalRecord]) -> Result<(), String> {
        self.records.lock().map_err(|e| e.to_string())?.extend_from_slice(records);
        Ok(())
    }
}

impl JournalReader for MemoryJournal {
    fn since(&self, _: u64, _: usize) -> Result<Vec<JournalRecord>, String> {
        Ok(Vec::new())
    }
    fn from(&self, _: u64, _: usize) -> Result<Vec<JournalRecord>, String> {
        Ok(Vec::new())
    }
    fn between_ms(&self, _: u64, _: u64, _: usize) -> Result<Vec<JournalRecord>, String> {
        Ok(Vec::new())
    }
    fn last(&self, _: usize) -> Result<Vec<JournalRecord>, String> {
        Ok(Vec::new())
    }
}

/// db on pg1 (agent), its standbys pg2 and pg3 (agents); reports on pg4, whose
/// agent is declared but never started. Short leases keep the test fast.
fn snapshot() -> Arc<Snapshot> {
    let mut b = InventoryBuilder::new().policy(|p| {
        p.agent.lease_ms = 2_000;
        p.agent.renew_every_ms = 500;
        p.agent.margin_ms = 1_000;
        p.agent.clock_skew_max_ms = 60_000;
    });
    let site = b.site("dc1");
    b.observer("ctl", site);
    let nodes: Vec<NodeId> = ["pg1", "pg2", "pg3", "pg4"].iter().map(|n| b.node(n, site, &[("role", "db")])).collect();
    for &node in &nodes {
        b.node_mut(node).agent = true;
    }
    b.check("pg", CheckKind::Tcp, &nodes, 1, 2);
    b.service("db", ServiceKind::Primary, "db", &nodes[0..3], &nodes[0..1]);
    b.service("reports", ServiceKind::Primary, "reports", &nodes[3..4], &nodes[3..4]);
    Arc::new(b.build())
}

struct Harness {
    base: String,
    http: reqwest::Client,
    _driver: tokio::task::JoinHandle<Result<(), String>>,
    _server: tokio::task::JoinHandle<()>,
    _jobs: mpsc::Receiver<ward_core::engine::JobRequest>,
    _notifications: mpsc::Receiver<ward_core::engine::Notification>,
}

async fn start(tokens: Tokens) -> Harness {
    let snapshot = snapshot();
    let now = now_ms();
    let engine = Engine::new(snapshot.clone(), Mode::Guarded, now);
    let (events_tx, events_rx) = mpsc::channel::<Event>(64);
    let (jobs_tx, jobs_rx) = mpsc::channel(64);
    let (notify_tx, notify_rx) = mpsc::channel(64);
    let (view_tx, view_rx) = watch::channel(Arc::new(ward_daemon::view::build(&engine, "ctl", now, now)));
    let (snapshot_tx, snapshot_rx) = watch::channel(snapshot);
    let counters = Arc::new(Counters::default());
    let journal = Arc::new(MemoryJournal::default());
    let driver = Driver {
        engine,
        journal: journal.clone(),
        events: events_rx,
        jobs: jobs_tx,
        notifications: notify_tx,
        view: view_tx,
        snapshot: snapshot_tx,
        counters: counters.clone(),
        controller: "ctl".into(),
        started_at_ms: now,
        on_halt: None,
        halt_exit_after: Duration::from_secs(60),
        held: Default::default(),
    };
    let driver = tokio::spawn(driver.run());
    let state = AppState {
        view: view_rx,
        snapshot: snapshot_rx,
        events: events_tx,
        journal,
        counters,
        extra_metrics: Arc::new(Vec::new()),
        tokens: Arc::new(tokens),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("its address"));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, api::router(state)).await;
    });
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).no_proxy().build().expect("a client");
    Harness { base, http, _driver: driver, _server: server, _jobs: jobs_rx, _notifications: notify_rx }
}

fn all_tokens() -> Tokens {
    Tokens { operator: Some(OPERATOR.into()), read: None, observer: Some(OBSERVER.into()), agent: Some(AGENT.into()) }
}

fn renewal(node: &str) -> LeaseRequest {
    LeaseRequest {
        node: node.into(),
        token_seen: 0,
        sent_at_unix_ms: now_ms(),
        inventory_hash: String::new(),
        peers: vec![PeerReport { node: "pg2".into(), reachable: true, writable: false }],
        self_fenced: Vec::new(),
    }
}

impl Harness {
    async fn lease(&self, token: Option<&str>, request: &LeaseRequest) -> (u16, Value) {
        let mut call = self.http.post(format!("{}/v1/agent/lease", self.base)).json(request);
        if let Some(token) = token {
            call = call.bearer_auth(token);
        }
        let response = call.send().await.expect("the API answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let response = self.http.get(format!("{}{path}", self.base)).send().await.expect("the API answers");
        response.json().await.expect("JSON")
    }

    fn failover(status: &Value, service: &str) -> Value {
        status["failover"].as_array().into_iter().flatten().find(|f| f["service"] == service).cloned().unwrap_or(Value::Null)
    }

    /// Polls /v1/status until `condition` holds (bounded).
    async fn status_until(&self, what: &str, within: Duration, condition: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let status = self.get("/v1/status").await;
            if condition(&status) {
                return status;
            }
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}; last status: {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn the_agent_token_renews_leases_and_nothing_else() {
    let h = start(all_tokens()).await;
    let (status, answer) = h.lease(Some(AGENT), &renewal("pg1")).await;
    assert_eq!(status, 200, "{answer}");
    let answer: LeaseAnswer = serde_json::from_value(answer).expect("a LeaseAnswer");
    assert!(answer.granted, "{answer:?}");
    assert_eq!((answer.lease_ms, answer.renew_every_ms), (2_000, 500));
    assert!(answer.token >= 1, "the controller's fencing token: {answer:?}");

    // No other token renews a lease: a leaked operator or observer token must not
    // keep a dead host's lease alive.
    for token in [OPERATOR, OBSERVER] {
        let (status, body) = h.lease(Some(token), &renewal("pg1")).await;
        assert_eq!(status, 403, "{body}");
        assert!(body["hint"].as_str().unwrap_or("").contains("agent token"), "{body}");
    }
    let (status, body) = h.lease(None, &renewal("pg1")).await;
    assert_eq!(status, 401, "{body}");
    let (status, body) = h.lease(Some("not-a-token-of-this-controller"), &renewal("pg1")).await;
    assert_eq!(status, 401, "{body}");

    // And the agent token changes nothing else, nor posts observations.
    for path in ["/v1/hold", "/v1/observations"] {
        let response = h
            .http
            .post(format!("{}{path}", h.base))
            .bearer_auth(AGENT)
            .json(&json!({"target": "fleet", "reason": "x", "observer": "ctl", "observations": []}))
            .send()
            .await
            .expect("the API answers");
        assert_eq!(response.status().as_u16(), 403, "{path}");
    }

    // A node the inventory does not know is answered, not granted, with the fix.
    let (status, body) = h.lease(Some(AGENT), &renewal("pg9")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["granted"], false);
    assert!(body["sentence"].as_str().unwrap_or("").contains("--node"), "{body}");

    // Oversized lists are refused before they reach the engine.
    let mut flood = renewal("pg1");
    flood.peers = (0..2_000).map(|i| PeerReport { node: format!("n{i}"), reachable: true, writable: false }).collect();
    let (status, _) = h.lease(Some(AGENT), &flood).await;
    assert_eq!(status, 413);

    let openapi = h.get("/v1/openapi.json").await;
    assert!(openapi["paths"]["/v1/agent/lease"]["post"]["summary"].as_str().unwrap_or("").contains("Agent token only"));
}

#[tokio::test]
async fn without_an_agent_token_no_lease_is_granted() {
    let h = start(Tokens { agent: None, ..all_tokens() }).await;
    let (status, body) = h.lease(Some(OPERATOR), &renewal("pg1")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["hint"].as_str().unwrap_or("").contains("--agent-token-file"), "{body}");
}

#[tokio::test]
async fn status_says_which_primaries_fail_over_on_their_own_and_alerts_an_agent_never_heard_from() {
    let h = start(all_tokens()).await;
    // Before any renewal nothing can be counted on.
    let status = h.get("/v1/status").await;
    let db = Harness::failover(&status, "db");
    assert_eq!(db["holder"], "pg1", "{status}");
    assert_eq!(db["automatic"], false, "{status}");

    let (code, body) = h.lease(Some(AGENT), &renewal("pg1")).await;
    assert_eq!((code, &body["granted"]), (200, &json!(true)), "{body}");
    let status =
        h.status_until("db to fail over automatically", Duration::from_secs(2), |s| Harness::failover(s, "db")["automatic"] == true).await;
    let db = Harness::failover(&status, "db");
    assert!(db["sentence"].as_str().unwrap_or("").contains("lease"), "{db}");

    // pg4's agent never renewed: once lease + margin have passed since Ward
    // started, an alert says so, and its primary needs approval. (The engine's
    // idle bound, 10 s, is when it looks at the time with no other input.)
    let reports = Harness::failover(&status, "reports");
    assert_eq!(reports["automatic"], false, "{status}");
    assert!(reports["sentence"].as_str().unwrap_or("").contains("has not renewed"), "{reports}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let alerts = h.get("/v1/alerts").await;
        let found = alerts.as_array().into_iter().flatten().find(|a| a["cause"] == "agent:pg4").cloned();
        if let Some(alert) = found {
            assert!(alert["title"].as_str().unwrap_or("").contains("ward agent --node pg4"), "{alert}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no alert for pg4's silent agent: {alerts}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
