//! From the raw file to checked values. Each event kind declares which fields it
//! reads; a field it does not read is an error, so a misplaced knob is caught.

use std::path::Path;

use ward_core::engine::{HoldTarget, RolloutControl, RolloutScope};

use super::raw::*;
use super::*;
use crate::clock::{parse_at, parse_clock, parse_duration, parse_signed_duration};
use crate::scenario::ScenarioError;

struct Ctx<'a> {
    file: &'a str,
    start_clock_ms: u64,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError { file: self.file.into(), field: field.into(), message: message.into() }
    }
    fn duration(&self, field: &str, text: &str) -> Result<u64, ScenarioError> {
        parse_duration(text).map_err(|m| self.err(field, m))
    }
    fn at(&self, field: &str, text: &str) -> Result<u64, ScenarioError> {
        parse_at(text, self.start_clock_ms).map_err(|m| self.err(field, m))
    }
    fn rate(&self, field: &str, rate: f64) -> Result<f64, ScenarioError> {
        if (0.0..=1.0).contains(&rate) {
            Ok(rate)
        } else {
            Err(self.err(field, format!("{rate} is not a probability between 0 and 1")))
        }
    }
}

pub fn convert(file: &str, raw: RawScenario, base: &Path) -> Result<Scenario, ScenarioError> {
    let start_clock_ms =
        parse_clock(&raw.start_clock).map_err(|m| ScenarioError { file: file.into(), field: "start_clock".into(), message: m })?;
    let ctx = Ctx { file, start_clock_ms };
    let duration_ms = ctx.duration("duration", &raw.duration)?;
    if duration_ms == 0 || duration_ms > DURATION_MS_MAX {
        return Err(ctx.err("duration", "must be more than 0 and at most 7d"));
    }
    let inventory = read_doc(&ctx, "inventory", base, &raw.inventory)?;
    let world = world(&ctx, raw.world)?;
    let mut events = Vec::with_capacity(raw.events.len());
    for (index, event) in raw.events.into_iter().enumerate() {
        let converted = convert_event(&ctx, base, index, event)?;
        if converted.at_ms > duration_ms {
            return Err(ctx.err(format!("event[{index}].at"), "is after the end of the scenario (`duration`)"));
        }
        events.push(converted);
    }
    super::names::check(file, &inventory, &world, &events)?;
    events.sort_by_key(|e| e.at_ms);
    let expect = crate::expect::Expect::convert(file, start_clock_ms, raw.expect)?;
    Ok(Scenario {
        name: raw.name,
        seed_report: raw.seed_report,
        description: raw.description.unwrap_or_default(),
        file: file.into(),
        inventory,
        duration_ms,
        start_clock_ms,
        seed: raw.seed,
        world,
        events,
        expect,
    })
}

fn read_doc(ctx: &Ctx, field: &str, base: &Path, relative: &str) -> Result<InventoryDoc, ScenarioError> {
    let path = base.join(relative);
    let text = super::files::read_text(&path).map_err(|e| ctx.err(field, format!("cannot read inventory {}: {e}", path.display())))?;
    Ok(InventoryDoc::Text { source: relative.to_string(), text })
}

fn world(ctx: &Ctx, raw: RawWorld) -> Result<WorldKnobs, ScenarioError> {
    let mut w = WorldKnobs::default();
    if let Some(t) = &raw.actuator_latency {
        w.actuator.latency_ms = ctx.duration("world.actuator_latency", t)?;
    }
    if let Some(t) = &raw.actuator_jitter {
        w.actuator.jitter_ms = ctx.duration("world.actuator_jitter", t)?;
    }
    if let Some(r) = raw.actuator_failure_rate {
        w.actuator.failure_rate = ctx.rate("world.actuator_failure_rate", r)?;
    }
    for (name, knobs) in raw.hook {
        let field = format!("world.hook.{name}");
        let mut h = w.actuator.clone();
        if let Some(t) = &knobs.latency {
            h.latency_ms = ctx.duration(&format!("{field}.latency"), t)?;
        }
        if let Some(t) = &knobs.jitter {
            h.jitter_ms = ctx.duration(&format!("{field}.jitter"), t)?;
        }
        if let Some(r) = knobs.failure_rate {
            h.failure_rate = ctx.rate(&format!("{field}.failure_rate"), r)?;
        }
        w.hooks.insert(name, h);
    }
    if let Some(r) = raw.probe_loss {
        w.probe_loss = ctx.rate("world.probe_loss", r)?;
    }
    if let Some(t) = &raw.probe_latency {
        w.probe_latency_ms = ctx.duration("world.probe_latency", t)?;
    }
    if let Some(t) = &raw.probe_jitter {
        w.probe_jitter_ms = ctx.duration("world.probe_jitter", t)?;
    }
    if let Some(t) = &raw.notify_latency {
        w.notify_latency_ms = ctx.duration("world.notify_latency", t)?;
    }
    if let Some(t) = &raw.reboot {
        w.reboot_ms = ctx.duration("world.reboot", t)?;
    }
    w.write_rate_per_s = raw.write_rate_per_s.unwrap_or(w.write_rate_per_s);
    w.tree_files = raw.tree_files.unwrap_or(w.tree_files);
    if let Some(m) = raw.max_events {
        if m == 0 {
            return Err(ctx.err("world.max_events", "must be positive"));
        }
        w.max_events = m;
    }
    for (i, d) in raw.disk.into_iter().enumerate() {
        let gb = |v: f64, f: &str| -> Result<u64, ScenarioError> {
            if v.is_finite() && v >= 0.0 {
                Ok((v * GB) as u64)
            } else {
                Err(ctx.err(format!("world.disk[{i}].{f}"), "must be a non-negative number of GB"))
            }
        };
        let disk = DiskKnobs {
            total_bytes: gb(d.total_gb, "total_gb")?,
            used_bytes: gb(d.used_gb, "used_gb")?,
            reserved_bytes: gb(d.reserved_gb, "reserved_gb")?,
            bytes_per_hour: gb(d.gb_per_hour, "gb_per_hour")?,
            wal_bytes_per_hour: gb(d.wal_gb_per_hour, "wal_gb_per_hour")?,
            node: d.node,
        };
        if disk.used_bytes > disk.total_bytes || disk.reserved_bytes > disk.total_bytes {
            return Err(ctx.err(format!("world.disk[{i}]"), "used_gb and reserved_gb must not exceed total_gb"));
        }
        w.disks.push(disk);
    }
    for t in raw.tree {
        w.trees.insert(t.node, t.files);
    }
    for (i, r) in raw.replica.into_iter().enumerate() {
        let replay_delay_ms = match &r.replay_delay {
            Some(t) => ctx.duration(&format!("world.replica[{i}].replay_delay"), t)?,
            None => 0,
        };
        w.replicas.push(ReplicaKnobs { node: r.node, synchronous: r.synchronous, replay_delay_ms });
    }
    Ok(w)
}

/// Names of the optional fields an event sets, to reject those its kind ignores.
fn present_fields(e: &RawEvent) -> Vec<&'static str> {
    let mut out = Vec::new();
    macro_rules! check {
        ($($f:ident),*) => { $( if e.$f.is_some() { out.push(stringify!($f)); } )* };
    }
    check!(
        node,
        nodes,
        between,
        until,
        up,
        period_min,
        period_max,
        duration,
        error,
        lag,
        gb_per_hour,
        file,
        prefix_percent,
        jump,
        clock,
        command,
        target,
        reason,
        author,
        service,
        from,
        to,
        batch_size,
        operation,
        matching,
        cause_prefix,
        check,
        files,
        rate,
        domain,
        domains_max,
        pool_percent
    );
    out
}

fn allowed(kind: &str, command: Option<&str>) -> Option<&'static [&'static str]> {
    Some(match kind {
        "link_flap" => &["between", "until", "up", "period_min", "period_max"],
        "node_crash" | "node_recover" => &["node", "nodes"],
        "node_freeze" => &["node", "nodes", "duration"],
        "replication_repair" | "replication_silent_stop" | "egress_broken" | "egress_repaired" | "reconfigured" | "route_script_broken" => {
            &["node"]
        }
        "partition" => &["between", "duration"],
        "heal" => &["between"],
        "replication_break" => &["node", "error"],
        "replication_lag" => &["node", "lag"],
        "disk_fill_rate" => &["node", "gb_per_hour"],
        "inventory_torn" => &["file", "prefix_percent", "duration"],
        "inventory_replace" => &["file"],
        "controller_crash" => &["duration"],
        "controller_restart" => &[],
        "controller_pause" => &["duration", "clock"],
        "clock_jump" => &["jump"],
        "misconfigured" => &["node", "check"],
        "tree" => &["node", "files"],
        "probe_loss" => &["rate"],
        "operator" => match command? {
            "hold" => &["command", "author", "target", "reason", "until"],
            "release" => &["command", "author", "target"],
            "approve" => &["command", "author", "matching"],
            "reject" => &["command", "author", "matching", "reason"],
            "ack" => &["command", "author", "cause_prefix"],
            "drain" | "undrain" => &["command", "author", "node"],
            "sync" => &["command", "author", "service", "from", "to"],
            "switchover" => &["command", "author", "service", "to"],
            "rollout" => &["command", "author", "nodes", "batch_size", "operation", "domain", "domains_max", "pool_percent"],
            "rollout_pause" | "rollout_resume" | "rollout_cancel" => &["command", "author"],
            _ => return None,
        },
        _ => return None,
    })
}

const KINDS: &str =
    "link_flap, node_crash, node_recover, partition, heal, replication_break, replication_repair, replication_silent_stop, \
replication_lag, disk_fill_rate, inventory_torn, inventory_replace, controller_crash, controller_restart, \
controller_pause, clock_jump, operator, egress_broken, egress_repaired, misconfigured, reconfigured, \
route_script_broken, tree, probe_loss";

const COMMANDS: &str =
    "hold, release, approve, reject, ack, drain, undrain, sync, switchover, rollout, rollout_pause, rollout_resume, rollout_cancel";

fn convert_event(ctx: &Ctx, base: &Path, index: usize, e: RawEvent) -> Result<ScenarioEvent, ScenarioError> {
    let field = |name: &str| format!("event[{index}].{name}");
    let at_ms = ctx.at(&field("at"), &e.at)?;
    let Some(allowed) = allowed(&e.kind, e.command.as_deref()) else {
        return Err(if e.kind == "operator" {
            ctx.err(field("command"), format!("must be one of: {COMMANDS}"))
        } else {
            ctx.err(field("kind"), format!("unknown kind `{}`; expected one of: {KINDS}", e.kind))
        });
    };
    if let Some(extra) = present_fields(&e).into_iter().find(|f| !allowed.contains(f)) {
        return Err(ctx.err(field(extra), format!("is not used by kind `{}` (it reads: {})", e.kind, allowed.join(", "))));
    }
    let need = |value: &Option<String>, name: &str| -> Result<String, ScenarioError> {
        value.clone().ok_or_else(|| ctx.err(field(name), format!("is required for kind `{}`", e.kind)))
    };
    let node = || need(&e.node, "node");
    let cut = |required: bool| -> Result<Option<Cut>, ScenarioError> {
        match &e.between {
            None if required => Err(ctx.err(field("between"), "is required: two endpoints, e.g. [\"site:scl2\", \"*\"]")),
            None => Ok(None),
            Some(pair) if pair.len() != 2 => Err(ctx.err(field("between"), "must name exactly two endpoints")),
            Some(pair) => {
                let a = Endpoint::parse(&pair[0]).map_err(|m| ctx.err(field("between"), m))?;
                let b = Endpoint::parse(&pair[1]).map_err(|m| ctx.err(field("between"), m))?;
                if a == Endpoint::Rest && b == Endpoint::Rest {
                    return Err(ctx.err(field("between"), "\"*\" may stand on one side only"));
                }
                Ok(Some(Cut { a, b }))
            }
        }
    };
    let opt_duration = |name: &str, v: &Option<String>| -> Result<Option<u64>, ScenarioError> {
        v.as_deref().map(|t| ctx.duration(&field(name), t)).transpose()
    };
    let fault = match e.kind.as_str() {
        "link_flap" => {
            let until_ms = ctx.at(&field("until"), &need(&e.until, "until")?)?;
            if until_ms <= at_ms {
                return Err(ctx.err(field("until"), "must be after `at`"));
            }
            let mut up = Vec::new();
            for (i, window) in e.up.iter().flatten().enumerate() {
                let f = format!("{}[{i}]", field("up"));
                let (a, b) = window.split_once('-').ok_or_else(|| ctx.err(&f, "write a window as \"09:18-09:19\""))?;
                let (a, b) = (ctx.at(&f, a.trim())?, ctx.at(&f, b.trim())?);
                if b <= a || a < at_ms || b > until_ms {
                    return Err(ctx.err(f, "must be a non-empty window inside `at`..`until`"));
                }
                up.push((a, b));
            }
            up.sort();
            let random = match (opt_duration("period_min", &e.period_min)?, opt_duration("period_max", &e.period_max)?) {
                (None, None) => None,
                (Some(a), Some(b)) if a > 0 && a <= b => Some((a, b)),
                _ => return Err(ctx.err(field("period_min"), "give both period_min and period_max, 0 < min <= max")),
            };
            if random.is_some() && !up.is_empty() {
                return Err(ctx.err(field("up"), "give either `up` windows or random periods, not both"));
            }
            Fault::LinkFlap { cut: cut(true)?.unwrap(), until_ms, up, random }
        }
        "node_crash" => Fault::NodeCrash { nodes: node_list(ctx, &field("node"), &e)? },
        "node_recover" => Fault::NodeRecover { nodes: node_list(ctx, &field("node"), &e)? },
        "node_freeze" => Fault::NodeFreeze {
            nodes: node_list(ctx, &field("node"), &e)?,
            duration_ms: ctx.duration(&field("duration"), &need(&e.duration, "duration")?)?,
        },
        "partition" => Fault::Partition { cut: cut(true)?.unwrap(), duration_ms: opt_duration("duration", &e.duration)? },
        "heal" => Fault::Heal { cut: cut(false)? },
        "replication_break" => Fault::ReplicationBreak { node: node()?, error: need(&e.error, "error")? },
        "replication_repair" => Fault::ReplicationRepair { node: node()? },
        "replication_silent_stop" => Fault::ReplicationSilentStop { node: node()? },
        "replication_lag" => Fault::ReplicationLag { node: node()?, lag_ms: ctx.duration(&field("lag"), &need(&e.lag, "lag")?)? },
        "disk_fill_rate" => match e.gb_per_hour {
            Some(r) if r.is_finite() && r >= 0.0 => Fault::DiskFillRate { node: node()?, gb_per_hour: r },
            _ => return Err(ctx.err(field("gb_per_hour"), "is required: a non-negative number")),
        },
        "inventory_torn" => {
            let torn = match (&e.file, e.prefix_percent) {
                (Some(f), None) => Torn::Doc(read_doc(ctx, &field("file"), base, f)?),
                (None, Some(p)) if p < 100 => Torn::Prefix(p),
                (None, Some(_)) => return Err(ctx.err(field("prefix_percent"), "must be below 100")),
                _ => return Err(ctx.err(field("file"), "give exactly one of `file` (a corrupted copy) or `prefix_percent`")),
            };
            Fault::InventoryTorn { torn, duration_ms: opt_duration("duration", &e.duration)?.unwrap_or(30_000) }
        }
        "inventory_replace" => Fault::InventoryReplace { doc: read_doc(ctx, &field("file"), base, &need(&e.file, "file")?)? },
        "controller_crash" => Fault::ControllerCrash { restart_after_ms: opt_duration("duration", &e.duration)? },
        "controller_restart" => Fault::ControllerRestart,
        "controller_pause" => Fault::ControllerPause {
            duration_ms: ctx.duration(&field("duration"), &need(&e.duration, "duration")?)?,
            clock_frozen: match e.clock.as_deref() {
                None | Some("continues") => false,
                Some("frozen") => true,
                Some(other) => return Err(ctx.err(field("clock"), format!("`{other}`: expected \"continues\" or \"frozen\""))),
            },
        },
        "clock_jump" => {
            Fault::ClockJump { jump_ms: parse_signed_duration(&need(&e.jump, "jump")?).map_err(|m| ctx.err(field("jump"), m))? }
        }
        "egress_broken" => Fault::EgressBroken { node: node()? },
        "egress_repaired" => Fault::EgressRepaired { node: node()? },
        "misconfigured" => Fault::Misconfigured { node: node()?, check: e.check.clone() },
        "reconfigured" => Fault::Reconfigured { node: node()? },
        "route_script_broken" => Fault::RouteScriptBroken { node: node()? },
        "tree" => Fault::Tree { node: node()?, files: e.files.ok_or_else(|| ctx.err(field("files"), "is required for kind `tree`"))? },
        "probe_loss" => Fault::ProbeLoss {
            rate: ctx.rate(&field("rate"), e.rate.ok_or_else(|| ctx.err(field("rate"), "is required for kind `probe_loss`"))?)?,
        },
        "operator" => operator(ctx, index, &e)?,
        _ => unreachable!("allowed() accepted the kind"),
    };
    let after_action = match &e.after_action {
        None => None,
        Some(text) => Some(ward_core::action::ActionKind::parse(text).ok_or_else(|| {
            let known: Vec<&str> = ward_core::action::ActionKind::ALL.iter().map(|k| k.name()).collect();
            ctx.err(field("after_action"), format!("`{text}` is not an action kind; expected one of {}", known.join(", ")))
        })?),
    };
    Ok(ScenarioEvent { at_ms, note: e.note, fault, after_action, armed_until_ms: None })
}

/// `node = "a"` or `nodes = ["a", "b"]`, exactly one of them.
fn node_list(ctx: &Ctx, field: &str, e: &RawEvent) -> Result<Vec<String>, ScenarioError> {
    match (&e.node, &e.nodes) {
        (Some(n), None) => Ok(vec![n.clone()]),
        (None, Some(list)) if !list.is_empty() => Ok(list.clone()),
        _ => Err(ctx.err(field, "give exactly one of `node` or a non-empty `nodes` list")),
    }
}

fn operator(ctx: &Ctx, index: usize, e: &RawEvent) -> Result<Fault, ScenarioError> {
    let field = |name: &str| format!("event[{index}].{name}");
    let need = |value: &Option<String>, name: &str| -> Result<String, ScenarioError> {
        value.clone().ok_or_else(|| ctx.err(field(name), "is required for this command"))
    };
    let target = || -> Result<HoldTarget, ScenarioError> {
        let text = need(&e.target, "target")?;
        if text == "fleet" || text == "all" {
            return Ok(HoldTarget::Fleet);
        }
        match text.split_once(':') {
            Some(("node", n)) => Ok(HoldTarget::Node(n.into())),
            Some(("site", n)) => Ok(HoldTarget::Site(n.into())),
            Some(("service", n)) => Ok(HoldTarget::Service(n.into())),
            _ => Err(ctx.err(field("target"), format!("`{text}`: write \"node:NAME\", \"site:NAME\", \"service:NAME\" or \"fleet\""))),
        }
    };
    let command = match e.command.as_deref().unwrap_or_default() {
        "hold" => OperatorCommand::Hold {
            target: target()?,
            reason: e.reason.clone().unwrap_or_else(|| "operator hold".into()),
            until_ms: e.until.as_deref().map(|t| ctx.at(&field("until"), t)).transpose()?,
        },
        "release" => OperatorCommand::Release { target: target()? },
        "approve" => OperatorCommand::Approve { matching: e.matching.clone().unwrap_or_default() },
        "reject" => OperatorCommand::Reject {
            matching: e.matching.clone().unwrap_or_default(),
            reason: e.reason.clone().unwrap_or_else(|| "rejected by operator".into()),
        },
        "ack" => OperatorCommand::Ack { cause_prefix: e.cause_prefix.clone().unwrap_or_default() },
        "drain" => OperatorCommand::Drain { node: need(&e.node, "node")? },
        "undrain" => OperatorCommand::Undrain { node: need(&e.node, "node")? },
        "sync" => OperatorCommand::Sync { service: need(&e.service, "service")?, from: need(&e.from, "from")?, to: need(&e.to, "to")? },
        "switchover" => OperatorCommand::Switchover { service: need(&e.service, "service")?, to: need(&e.to, "to")? },
        "rollout" => OperatorCommand::Rollout {
            nodes: e.nodes.clone().filter(|n| !n.is_empty()).ok_or_else(|| ctx.err(field("nodes"), "is required: a non-empty list"))?,
            batch_size: e.batch_size.filter(|b| *b > 0).ok_or_else(|| ctx.err(field("batch_size"), "is required and positive"))?,
            operation: e.operation.clone().unwrap_or_else(|| "reboot".into()),
            scope: RolloutScope {
                domain_label: e.domain.clone().filter(|d| d != "site"),
                domains_max: match e.domains_max {
                    Some(0) => return Err(ctx.err(field("domains_max"), "must be at least 1")),
                    other => other,
                },
                pool_percent_max: match e.pool_percent {
                    Some(p) if p > 100 => return Err(ctx.err(field("pool_percent"), "is a percentage: 0 to 100")),
                    other => other,
                },
            },
        },
        "rollout_pause" => OperatorCommand::RolloutControl { control: RolloutControl::Pause },
        "rollout_resume" => OperatorCommand::RolloutControl { control: RolloutControl::Resume },
        "rollout_cancel" => OperatorCommand::RolloutControl { control: RolloutControl::Cancel },
        _ => unreachable!("allowed() accepted the command"),
    };
    Ok(Fault::Operator { author: e.author.clone().unwrap_or_else(|| "operator".into()), command })
}
