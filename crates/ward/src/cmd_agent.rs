//! `ward agent`: the host-local half of Ward on a database node. It holds a lease
//! from the controller, renewed every `policy.agent.renew_every`, reports what its
//! probes see of the other members of its primary services, and fences its own
//! server when the lease has run out and it can see no majority of those members
//! (or another member answers as a writable primary), so the controller may promote
//! around a host that stopped answering once lease + margin have passed.
//!
//! The rule itself is `ward_core::agent::LeaseKeeper` (sans-IO); this is the shell:
//! HTTP, probes, the persisted fencing token, the fence through the service's
//! actuator (the same `run_step` the controller's Fence step uses), and the log.
//! Every lease change and decision is one plain log line.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::mpsc;
use tokio::time::Instant;
use ward_actuate::{Actuators, StepContext};
use ward_core::action::Action;
use ward_core::agent::{Decision, LeaseAnswer, LeaseKeeper, LeaseRequest, PeerReport, PeerSight};
use ward_core::engine::{JobOutcome, JobRequest};
use ward_core::ids::{JobId, NodeId, ObserverId, ServiceId};
use ward_core::inventory::{ServiceKind, Snapshot};
use ward_core::journal::JobStep;
use ward_core::observation::{Observation, ProbeDetail};
use ward_daemon::inventory_source::{read_stable, ReadOutcome, Watcher};
use ward_probe::{ProbeSpec, Scheduler, SchedulerConfig};

#[derive(Args, Clone, Debug)]
pub struct AgentArgs {
    /// The inventory (the same file the controller reads; reloaded on change).
    #[arg(long)]
    pub inventory: PathBuf,
    /// This host's node name in the inventory (it needs `agent = true`).
    #[arg(long)]
    pub node: String,
    /// The controller's API, e.g. http://10.201.0.1:7070 (or WARD_CONTROLLER).
    #[arg(long, env = "WARD_CONTROLLER")]
    pub controller: String,
    /// A file holding the agent token (the controller's --agent-token-file); chmod 600.
    #[arg(long, env = "WARD_AGENT_TOKEN_FILE")]
    pub token_file: PathBuf,
    /// Where the highest fencing token seen is kept across restarts (created 0700).
    #[arg(long)]
    pub state_dir: PathBuf,
}

/// The highest fencing token seen, in the state dir.
const TOKEN_FILE: &str = "fencing-token";
/// How often the rule is applied to what the probes and renewals say.
const DECIDE_EVERY: Duration = Duration::from_millis(100);
const INVENTORY_POLL: Duration = Duration::from_secs(1);
/// Without a valid lease, failed renewals back off up to this (never below renew_every).
const RETRY_MAX: Duration = Duration::from_secs(2);
/// A fence that failed is tried again after this.
const FENCE_RETRY_PAUSE: Duration = Duration::from_secs(1);
/// A renewal's answer is at most this large (it is a few names).
const ANSWER_BYTES_MAX: usize = 256 * 1024;

/// What the inventory says this agent watches.
struct Watch {
    snapshot: Arc<Snapshot>,
    node: NodeId,
    /// Primary services this node is a candidate of, with their other members.
    services: Vec<(ServiceId, String, Vec<String>)>,
    specs: Vec<ProbeSpec>,
}

fn watch(snapshot: Arc<Snapshot>, name: &str, file: &Path) -> Result<Watch, String> {
    let node = snapshot.node_id(name).ok_or_else(|| {
        let known: Vec<&str> = snapshot.nodes().iter().map(|n| n.name.as_str()).collect();
        format!("--node {name:?} is not a node of {}; its nodes: {}", file.display(), known.join(", "))
    })?;
    if !snapshot.node(node).agent {
        return Err(format!(
            "node {name} has no `agent = true` in {}: add it to that [[node]] entry (and reload the controller) so Ward counts on this agent's lease",
            file.display()
        ));
    }
    let mut services = Vec::new();
    let mut pairs = BTreeSet::new();
    for (index, service) in snapshot.services().iter().enumerate() {
        if service.kind != ServiceKind::Primary || service.follows.is_some() || !service.candidates.contains(&node) {
            continue;
        }
        let others = service.candidates.iter().filter(|n| **n != node).map(|n| snapshot.node_name(*n).to_string()).collect();
        // The members' probes: the service's own checks when it names them, else
        // every check the inventory runs on its members (a service without `checks`
        // is still watched through its nodes' checks; an agent seeing nothing would
        // report every peer unreachable).
        let before = pairs.len();
        for (probe_index, probe) in snapshot.probes().iter().enumerate() {
            if service.candidates.contains(&probe.node) && (service.checks.is_empty() || service.checks.contains(&probe.check)) {
                pairs.insert(ward_core::ids::ProbeId(probe_index as u32));
            }
        }
        if pairs.len() == before {
            return Err(format!(
                "no check in {} probes the members of {}: this agent could not tell a reachable peer from a dead one; \
                 attach a check (e.g. kind = \"postgres\") to its nodes",
                file.display(),
                service.name
            ));
        }
        services.push((ServiceId(index as u32), service.name.clone(), others));
    }
    let specs = ward_probe::specs(&snapshot).into_iter().filter(|s| pairs.contains(&s.probe)).collect();
    Ok(Watch { snapshot, node, services, specs })
}

/// The latest result of one probe of a member's server, and its latest pass.
#[derive(Clone, Copy, Default)]
struct Sight {
    last_pass: Option<Instant>,
    /// (when, passed, answered as a writable primary)
    last: Option<(Instant, bool, bool)>,
    /// What the latest passing answer said: a writable primary or not.
    answered_writable: Option<bool>,
}

impl Sight {
    /// This host's own server may still take writes: its latest answer said so.
    /// A probe that timed out proves nothing (a loaded host answers late), so only
    /// an answer saying "standby" or "read-only" rules a fence out: fencing a server
    /// that turns out read-only already costs nothing, missing a writable one
    /// would leave a second writer.
    fn may_be_writable(&self) -> bool {
        self.answered_writable == Some(true)
    }

    fn reachable(&self, now: Instant, within: Duration) -> bool {
        self.last_pass.is_some_and(|at| now.duration_since(at) <= within)
    }

    fn writable(&self, now: Instant, within: Duration) -> bool {
        self.last.is_some_and(|(at, pass, writable)| pass && writable && now.duration_since(at) <= within)
    }
}

/// Per (node, probe): a member may have several checks; only some say whether
/// it takes writes (a postgres check does, an exec check does not).
type Sights = BTreeMap<(String, u32), Sight>;

/// (reachable: some probe passed within `within`, writable: some probe's latest
/// result, within `within`, is a writable primary).
fn sight_of(sights: &Sights, node: &str, now: Instant, within: Duration) -> (bool, bool) {
    let of_node = sights.range((node.to_string(), 0)..=(node.to_string(), u32::MAX)).map(|(_, s)| s);
    of_node.fold((false, false), |(r, w), s| (r || s.reachable(now, within), w || s.writable(now, within)))
}

struct Renewed {
    sent_at: Instant,
    reported: Vec<String>,
    result: Result<LeaseAnswer, String>,
}

struct Fenced {
    service: String,
    outcome: JobOutcome,
}

pub async fn run(args: AgentArgs) -> Result<(), String> {
    let token = ward_daemon::run::read_token(&args.token_file)?;
    let token_seen = open_state(&args.state_dir)?;
    let mut current = watch(load(&args.inventory).await?, &args.node, &args.inventory)?;
    let controller = args.controller.trim_end_matches('/').to_string();
    if !(controller.starts_with("http://") || controller.starts_with("https://")) {
        return Err(format!("--controller {controller:?} is not an http:// or https:// URL, e.g. http://10.201.0.1:7070"));
    }
    let http = reqwest::Client::builder().no_proxy().build().map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let actuators = Arc::new(Actuators::new()?);
    let origin = Instant::now();
    let mono_ms = move |at: Instant| at.duration_since(origin).as_millis() as u64;

    let (sink, mut results) = mpsc::channel::<Observation>(4_096);
    let scheduler = Scheduler::start(current.specs.clone(), ObserverId(0), sink, SchedulerConfig::default());
    let (renewed_tx, mut renewed_rx) = mpsc::channel::<Renewed>(4);
    let (fenced_tx, mut fenced_rx) = mpsc::channel::<Fenced>(64);
    let mut watcher = Watcher::new(args.inventory.clone());
    let mut inventory_tick = tokio::time::interval(INVENTORY_POLL);
    let mut decide_tick = tokio::time::interval(DECIDE_EVERY);
    decide_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut keeper = LeaseKeeper::new(token_seen);
    // A starting agent has seen neither the controller nor its peers yet: it judges
    // nothing for one lease (Ward does not count on an agent it never heard from).
    keeper.start_grace(mono_ms(Instant::now()), current.snapshot.policy().agent.lease_ms);
    let mut sights: Sights = BTreeMap::new();
    let policy = current.snapshot.policy().agent.clone();
    let mut lease = Duration::from_millis(policy.lease_ms);
    let mut renew_every = Duration::from_millis(policy.renew_every_ms.max(1));
    let mut next_renewal = Instant::now();
    let mut renewal_in_flight = false;
    let mut failures: u32 = 0;
    let mut self_fenced: BTreeSet<String> = BTreeSet::new();
    let mut fencing: BTreeSet<String> = BTreeSet::new();
    let mut fence_retry_at: BTreeMap<String, Instant> = BTreeMap::new();
    // What was last logged, so each change is one line and repeats are not.
    let mut said_lease = String::new();
    let mut said_decision = String::new();
    let mut said_stay = Vec::new();
    let mut lease_was_valid = false;
    // A lease the controller granted is in force (the start-up grace is not one).
    let mut granted = false;

    let names: Vec<&str> = current.services.iter().map(|(_, name, _)| name.as_str()).collect();
    tracing::info!(
        "ward agent on {} for {} (primary services: {}), fencing token {} from {}; renewing every {} ms with {}",
        args.node,
        controller,
        if names.is_empty() { "none".to_string() } else { names.join(", ") },
        token_seen,
        args.state_dir.display(),
        renew_every.as_millis(),
        current.snapshot.short_hash()
    );

    loop {
        tokio::select! {
            Some(observation) = results.recv() => {
                let probe = current.snapshot.probe(observation.probe);
                let node = current.snapshot.node_name(probe.node).to_string();
                let pass = observation.outcome.is_pass();
                let writable = matches!(observation.detail.as_deref(), Some(ProbeDetail::Primary(status)) if status.writable == Some(true));
                let now = Instant::now();
                let sight = sights.entry((node, observation.probe.0)).or_default();
                if pass {
                    sight.last_pass = Some(now);
                    sight.answered_writable = Some(writable);
                }
                sight.last = Some((now, pass, writable));
            }
            _ = tokio::time::sleep_until(next_renewal), if !renewal_in_flight => {
                renewal_in_flight = true;
                let now = Instant::now();
                let reported: Vec<String> = self_fenced.iter().cloned().collect();
                let request = LeaseRequest {
                    node: args.node.clone(),
                    token_seen: keeper.token_seen(),
                    sent_at_unix_ms: ward_daemon::driver::now_ms(),
                    inventory_hash: current.snapshot.hash().to_string(),
                    peers: peer_reports(&current, &sights, now, lease),
                    self_fenced: reported.clone(),
                };
                // The request gives up before the next one is due.
                let timeout = (renew_every * 3 / 4).max(Duration::from_millis(1));
                let (http, url, token, tx) = (http.clone(), format!("{controller}/v1/agent/lease"), token.clone(), renewed_tx.clone());
                tokio::spawn(async move {
                    let result = renew(&http, &url, &token, &request, timeout).await;
                    let _ = tx.send(Renewed { sent_at: now, reported, result }).await;
                });
            }
            Some(renewed) = renewed_rx.recv() => {
                renewal_in_flight = false;
                let sent_ms = mono_ms(renewed.sent_at);
                match renewed.result {
                    Ok(answer) => {
                        failures = 0;
                        // A higher token is durable before anything acts on it.
                        if answer.token > keeper.token_seen() {
                            let (dir, value) = (args.state_dir.clone(), answer.token);
                            let persisted = tokio::task::spawn_blocking(move || persist_token(&dir, value))
                                .await
                                .map_err(|e| format!("the state writer failed: {e}"))
                                .and_then(|r| r);
                            if let Err(e) = persisted {
                                say(&mut said_lease, format!("cannot keep fencing token {} in {}, so this answer is not used: {e}", answer.token, args.state_dir.display()));
                                next_renewal = renewed.sent_at + renew_every;
                                continue;
                            }
                        }
                        match keeper.on_answer(sent_ms, &answer) {
                            Err(refusal) => say(&mut said_lease, format!("{refusal} (it said: {})", answer.sentence)),
                            Ok(_) if answer.granted => {
                                if !granted {
                                    granted = true;
                                    say(&mut said_lease, format!(
                                        "lease granted by {controller} (fencing token {}): {}; it holds for {} ms from each renewal sent",
                                        answer.token, answer.sentence, answer.lease_ms
                                    ));
                                }
                                lease_was_valid = keeper.lease_valid(mono_ms(Instant::now()));
                                // The controller has heard these: it journals them itself.
                                for service in &renewed.reported {
                                    self_fenced.remove(service);
                                }
                            }
                            Ok(_) => say(&mut said_lease, format!("the controller did not grant the lease: {}", answer.sentence)),
                        }
                        if answer.lease_ms > 0 {
                            lease = Duration::from_millis(answer.lease_ms);
                        }
                        if answer.renew_every_ms > 0 {
                            renew_every = Duration::from_millis(answer.renew_every_ms);
                        }
                        if keeper.stay_fenced() != said_stay.as_slice() {
                            said_stay = keeper.stay_fenced().to_vec();
                            if !said_stay.is_empty() {
                                tracing::info!("the controller counts on these being fenced here: {}", said_stay.join(", "));
                            }
                        }
                        next_renewal = renewed.sent_at + renew_every;
                    }
                    Err(error) => {
                        failures = failures.saturating_add(1);
                        say(&mut said_lease, format!("cannot renew the lease at {controller}: {error}"));
                        // Bounded backoff, only while no lease is at stake.
                        let pause = if keeper.lease_valid(mono_ms(Instant::now())) {
                            renew_every
                        } else {
                            (renew_every * 2u32.saturating_pow(failures.min(8) - 1)).min(RETRY_MAX.max(renew_every))
                        };
                        next_renewal = renewed.sent_at + pause;
                    }
                }
            }
            Some(fenced) = fenced_rx.recv() => {
                fencing.remove(&fenced.service);
                if fenced.outcome.ok {
                    tracing::info!("fenced this server for {} through its actuator: {}", fenced.service, fenced.outcome.message);
                    self_fenced.insert(fenced.service);
                } else {
                    tracing::warn!("could not fence this server for {}: {} (tried again in {} s)", fenced.service, fenced.outcome.message, FENCE_RETRY_PAUSE.as_secs());
                    fence_retry_at.insert(fenced.service, Instant::now() + FENCE_RETRY_PAUSE);
                }
            }
            _ = decide_tick.tick() => {
                let now = Instant::now();
                let now_ms = mono_ms(now);
                let valid = keeper.lease_valid(now_ms);
                if lease_was_valid && !valid {
                    granted = false;
                    let ran_out = keeper.valid_until_ms().map(|u| now_ms.saturating_sub(u)).unwrap_or(0);
                    say(&mut said_lease, format!("the lease ran out {ran_out} ms ago: no renewal answered within {} ms", lease.as_millis()));
                }
                lease_was_valid = valid;
                let own = current.snapshot.node_name(current.node).to_string();
                let writable_here = sights.range((own.clone(), 0)..=(own.clone(), u32::MAX)).any(|(_, s)| s.may_be_writable());
                // Only a server that answers as a writable primary has anything to fence.
                let services: Vec<(String, Vec<PeerSight>)> = if writable_here {
                    current
                        .services
                        .iter()
                        .map(|(_, name, others)| {
                            let peers = others
                                .iter()
                                .map(|other| {
                                    let (reachable, writable) = sight_of(&sights, other, now, lease);
                                    PeerSight { node: other.clone(), reachable, writable }
                                })
                                .collect();
                            (name.clone(), peers)
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                match keeper.decide(now_ms, &services) {
                    Decision::Keep => said_decision.clear(),
                    Decision::KeepWithoutLease(sentence) => say(&mut said_decision, sentence),
                    Decision::Fence { services, sentence, .. } => {
                        let key = format!("fence {}", services.join(","));
                        if said_decision != key {
                            said_decision = key;
                            tracing::warn!("{sentence}");
                        }
                        for service in services {
                            if fencing.contains(&service) || fence_retry_at.get(&service).is_some_and(|at| now < *at) {
                                continue;
                            }
                            let Some(&(id, _, _)) = current.services.iter().find(|(_, name, _)| *name == service) else { continue };
                            fencing.insert(service.clone());
                            fence_retry_at.remove(&service);
                            let (actuators, snapshot, tx, node) = (actuators.clone(), current.snapshot.clone(), fenced_tx.clone(), current.node);
                            let token = keeper.token_seen();
                            let agent = args.node.clone();
                            tokio::spawn(async move {
                                let outcome = fence(&actuators, snapshot, id, node, token, &agent).await;
                                let _ = tx.send(Fenced { service, outcome }).await;
                            });
                        }
                    }
                }
            }
            _ = inventory_tick.tick() => {
                if watcher.changed() {
                    match load(&args.inventory).await.and_then(|s| watch(s, &args.node, &args.inventory)) {
                        Ok(next) => {
                            if next.snapshot.hash() != current.snapshot.hash() {
                                scheduler.replace(next.specs.clone()).await;
                                while results.try_recv().is_ok() {}
                                tracing::info!("inventory {} applied", next.snapshot.short_hash());
                                current = next;
                            }
                        }
                        Err(e) => tracing::warn!("inventory not applied, the last good one stays in force: {e}"),
                    }
                }
            }
        }
    }
}

/// Logs `sentence` unless it is what was said last.
fn say(last: &mut String, sentence: String) {
    if *last != sentence {
        tracing::info!("{sentence}");
        *last = sentence;
    }
}

fn peer_reports(current: &Watch, sights: &Sights, now: Instant, lease: Duration) -> Vec<PeerReport> {
    let others: BTreeSet<&String> = current.services.iter().flat_map(|(_, _, others)| others.iter()).collect();
    others
        .into_iter()
        // A member not probed yet (the agent just started) is left out: saying
        // "cannot reach it" without having tried would count towards Ward's
        // majority for promoting around it.
        .filter(|node| sights.range(((*node).clone(), 0)..=((*node).clone(), u32::MAX)).any(|(_, s)| s.last.is_some()))
        .map(|node| {
            let (reachable, writable) = sight_of(sights, node, now, lease);
            PeerReport { node: node.clone(), reachable, writable }
        })
        .collect()
}

async fn renew(http: &reqwest::Client, url: &str, token: &str, request: &LeaseRequest, timeout: Duration) -> Result<LeaseAnswer, String> {
    let response = http.post(url).bearer_auth(token).json(request).timeout(timeout).send().await.map_err(|e| {
        if e.is_timeout() {
            format!("no answer within {} ms", timeout.as_millis())
        } else {
            short(&e)
        }
    })?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| short(&e))?;
    if body.len() > ANSWER_BYTES_MAX {
        return Err(format!("the answer is {} bytes, more than a lease answer can be", body.len()));
    }
    if !status.is_success() {
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        let what = error["error"].as_str().unwrap_or("no explanation");
        let hint = error["hint"].as_str().map(|h| format!(" ({h})")).unwrap_or_default();
        return Err(format!("{status}: {what}{hint}"));
    }
    serde_json::from_slice(&body).map_err(|e| format!("the answer is not a lease answer: {e}"))
}

fn short(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text = inner.to_string();
        source = inner.source();
    }
    text
}

/// The controller's Fence step for this node, run here: the service's actuator,
/// bounded by its hook's timeout.
async fn fence(actuators: &Actuators, snapshot: Arc<Snapshot>, service: ServiceId, node: NodeId, token: u64, agent: &str) -> JobOutcome {
    let spec = snapshot.service(service);
    let action = Action::Fence { service, node };
    let Some(hook) = snapshot.hooks().get(spec.actuator.index()).cloned() else {
        let message = format!("service {} names no actuator in inventory {}", spec.name, snapshot.short_hash());
        return JobOutcome { job: JobId(0), step: JobStep::Apply, ok: false, message, preview: None };
    };
    let now = ward_daemon::driver::now_ms();
    let request = JobRequest {
        // The agent's steps are not the controller's jobs: their ids are its wall
        // clock, unique per fence attempt on this host.
        job: JobId(now),
        step: JobStep::Apply,
        named: snapshot.name_action(&action),
        action,
        hook: spec.actuator,
        attempt: 1,
        deadline_ms: now + hook.timeout_ms,
        fencing_token: token,
    };
    let ctx = StepContext { controller: format!("agent:{agent}"), snapshot: snapshot.clone() };
    let bound = Duration::from_millis(hook.timeout_ms) + Duration::from_secs(1);
    match tokio::time::timeout(bound, actuators.run_step(&hook, &request, &ctx)).await {
        Ok(outcome) => outcome,
        Err(_) => JobOutcome {
            job: request.job,
            step: request.step,
            ok: false,
            message: format!("the fence did not finish within {} ms", bound.as_millis()),
            preview: None,
        },
    }
}

async fn load(path: &Path) -> Result<Arc<Snapshot>, String> {
    match read_stable(path).await {
        ReadOutcome::Loaded(snapshot) => Ok(snapshot),
        ReadOutcome::Rejected(errors) => Err(format!("{}:\n{}", path.display(), errors.join("\n"))),
        ReadOutcome::Unstable => Err(format!("{} kept changing while read; try again", path.display())),
    }
}

/// Creates the state dir (0700) if needed, reads the token kept there, and proves
/// the dir writable by writing it back the way every later update is written.
fn open_state(dir: &Path) -> Result<u64, String> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("--state-dir {}: cannot create it: {e}; create it for the user running `ward agent`", dir.display()))?;
    let path = dir.join(TOKEN_FILE);
    let token = match std::fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<u64>().map_err(|_| {
            format!(
                "{}: holds {:?}, not a fencing token; if the file was damaged, write the highest token the controller has \
                 shown (`ward status`: controller starts) into it, or 0 to accept any controller",
                path.display(),
                text.chars().take(40).collect::<String>()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(format!("{}: cannot read it: {e}", path.display())),
    };
    persist_token(dir, token)
        .map_err(|e| format!("--state-dir {} is not writable: {e}; the agent must keep its fencing token there", dir.display()))?;
    Ok(token)
}

/// Temp file, fsync, rename, fsync of the dir: the token is either the old one or
/// the new one after a crash, never a torn one.
fn persist_token(dir: &Path, token: u64) -> Result<(), String> {
    let temp = dir.join(format!("{TOKEN_FILE}.tmp"));
    let path = dir.join(TOKEN_FILE);
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&temp)?;
        file.write_all(format!("{token}\n").as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, &path)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_is_writable_when_its_database_check_says_so_whatever_its_other_checks_say() {
        let now = Instant::now();
        let lease = Duration::from_secs(2);
        let mut sights = Sights::new();
        // pg1's postgres check: a writable primary; its exec check then passes too,
        // saying nothing about writes.
        sights.insert(("pg1".into(), 0), Sight { last_pass: Some(now), last: Some((now, true, true)), ..Sight::default() });
        sights.insert(("pg1".into(), 3), Sight { last_pass: Some(now), last: Some((now, true, false)), ..Sight::default() });
        assert_eq!(sight_of(&sights, "pg1", now, lease), (true, true));
        // pg2 answered long ago only; pg10 (a name pg1 is a prefix of) is its own node.
        let long_ago = now.checked_sub(Duration::from_secs(10)).unwrap_or(now);
        sights.insert(("pg2".into(), 1), Sight { last_pass: Some(long_ago), last: Some((long_ago, true, true)), ..Sight::default() });
        let later = long_ago + Duration::from_secs(10);
        assert_eq!(sight_of(&sights, "pg2", later, lease), (false, false));
        assert_eq!(sight_of(&sights, "pg10", now, lease), (false, false));
        // A failing latest result is not a writable answer, though it passed before.
        sights.insert(("pg3".into(), 2), Sight { last_pass: Some(now), last: Some((now, false, false)), ..Sight::default() });
        assert_eq!(sight_of(&sights, "pg3", now, lease), (true, false));
        // This host's own server: a probe that timed out after a writable answer
        // leaves it possibly writable (fence it); only an answer says otherwise.
        let mut own = Sight { answered_writable: Some(true), ..Sight::default() };
        own.last = Some((now, false, false));
        assert!(own.may_be_writable());
        own.answered_writable = Some(false);
        assert!(!own.may_be_writable());
    }

    #[test]
    fn the_token_survives_a_restart_and_a_damaged_file_is_an_error_for_people() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let state = dir.path().join("state");
        assert_eq!(open_state(&state), Ok(0));
        persist_token(&state, 42).expect("persisted");
        assert_eq!(open_state(&state), Ok(42));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state.join(TOKEN_FILE)).expect("the file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(state.join(TOKEN_FILE), "forty-two").expect("write");
        let error = open_state(&state).unwrap_err();
        assert!(error.contains("not a fencing token"), "{error}");
    }
}
