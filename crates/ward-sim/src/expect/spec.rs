//! What a scenario expects, as checked values.

use ward_core::action::{ActionKind, Outcome};
use ward_core::journal::Severity;
use ward_core::Mode;

use crate::clock::{parse_at, parse_duration};
use crate::scenario::{RawBounds, RawCheck, ScenarioError};

/// A window of virtual time: `after` inclusive, `before` exclusive.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub after_ms: u64,
    pub before_ms: Option<u64>,
}

impl Window {
    pub fn contains(&self, at_ms: u64) -> bool {
        at_ms >= self.after_ms && self.before_ms.is_none_or(|b| at_ms < b)
    }
}

#[derive(Clone, Debug)]
pub enum CheckKind {
    /// An alert whose cause starts with the prefix was raised in the window.
    AlertRaised { cause_prefix: String, severity_min: Option<Severity>, window: Window },
    /// Alerts for the two cause prefixes are separate alert groups (never the same id).
    AlertsDistinct { cause_prefix: String, other_prefix: String },
    /// A notification for the cause went out with escalation >= 1.
    Escalated { cause_prefix: String },
    /// Between `min` and `max` decisions matching the filters were journaled in the window.
    Decision { outcome: Option<Outcome>, action: Option<ActionKind>, contains: Option<String>, window: Window, min: u64, max: Option<u64> },
    /// Moves applied in the world within the window.
    Moves { window: Window, min: Option<u64>, max: Option<u64> },
    /// The world added `node` to `service`'s placement at most `max` times in the
    /// window, and never before `not_before`.
    NodeAdded { service: String, node: String, window: Window, max: Option<u64>, not_before: Option<u64> },
    /// At least `min` jobs (of `action`, if given) ended this way.
    JobEnded { end: String, action: Option<ActionKind>, min: u64 },
    /// Every job with an intent reached exactly one terminal record.
    JobsTerminalOnce,
    /// Every queued notification was delivered to its route at least once.
    NotificationsDelivered,
    /// The world's placement of `service` at `at` is exactly `holders` (order ignored).
    Placement { service: String, at_ms: u64, holders: Vec<String> },
    /// The engine journaled a time anomaly in the window.
    TimeAnomaly { window: Window },
    /// No primary service's placement moved onto a node of `site` in the window.
    NoPromotionIntoSite { site: String, window: Window },
    /// The world's placement of `service` at `at` has at least `min` holders.
    HoldersMin { service: String, at_ms: u64, min: u64 },
    /// A journal record containing `first` appears, and no later than the first
    /// one containing `then` (which must appear too).
    Order { first: String, then: String },
    /// Between `min` and `max` alert records (raised, repeated, reopened, resolved)
    /// for causes starting with the prefix were journaled in the window.
    AlertJournaled { cause_prefix: String, window: Window, min: u64, max: Option<u64> },
}

#[derive(Clone, Debug)]
pub struct CheckSpec {
    pub index: usize,
    pub mode: Mode,
    pub note: Option<String>,
    pub kind: CheckKind,
}

/// A metric `beats_baseline` compares; see `verdict::beats_baseline`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Availability,
    Moves,
    Outage,
    SplitBrain,
    Flaps,
    AckedWritesLost,
}

impl Metric {
    pub fn parse(name: &str) -> Option<Metric> {
        Some(match name {
            "availability" => Metric::Availability,
            "moves" => Metric::Moves,
            "outage" => Metric::Outage,
            "split_brain" => Metric::SplitBrain,
            "flaps" => Metric::Flaps,
            "acked_writes_lost" => Metric::AckedWritesLost,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Metric::Availability => "availability",
            Metric::Moves => "moves",
            Metric::Outage => "outage",
            Metric::SplitBrain => "split_brain",
            Metric::Flaps => "flaps",
            Metric::AckedWritesLost => "acked_writes_lost",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Expect {
    pub beats_baseline: Vec<Metric>,
    pub ward: RawBounds,
    pub naive: RawBounds,
    pub checks: Vec<CheckSpec>,
}

impl Expect {
    pub fn convert(file: &str, start_clock_ms: u64, raw: crate::scenario::RawExpect) -> Result<Expect, ScenarioError> {
        let err = |field: String, message: String| ScenarioError { file: file.into(), field, message };
        let mut beats = Vec::new();
        for name in &raw.beats_baseline {
            beats.push(Metric::parse(name).ok_or_else(|| {
                err(
                    "expect.beats_baseline".into(),
                    format!("unknown metric `{name}`; expected availability, moves, outage, split_brain, flaps or acked_writes_lost"),
                )
            })?);
        }
        for (who, b) in [("ward", &raw.ward), ("naive", &raw.naive)] {
            check_bounds(who, b).map_err(|(f, m)| err(format!("expect.{f}"), m))?;
        }
        let mut checks = Vec::new();
        for (index, c) in raw.check.into_iter().enumerate() {
            checks.push(convert_check(index, start_clock_ms, c).map_err(|(f, m)| err(format!("expect.check[{index}].{f}"), m))?);
        }
        Ok(Expect { beats_baseline: beats, ward: raw.ward, naive: raw.naive, checks })
    }
}

type FieldError = (String, String);

fn convert_check(index: usize, start: u64, c: RawCheck) -> Result<CheckSpec, FieldError> {
    let at = |name: &str, v: &Option<String>| -> Result<Option<u64>, FieldError> {
        v.as_deref().map(|t| parse_at(t, start).map_err(|m| (name.to_string(), m))).transpose()
    };
    let need = |name: &str, v: &Option<String>| -> Result<String, FieldError> {
        v.clone().ok_or_else(|| (name.to_string(), format!("is required for kind `{}`", c.kind)))
    };
    let after_ms = at("after", &c.after)?.unwrap_or(0);
    let mut before_ms = at("before", &c.before)?;
    if let Some(w) = &c.within {
        let within = parse_duration(w).map_err(|m| ("within".to_string(), m))?;
        before_ms = Some(before_ms.map_or(after_ms + within, |b| b.min(after_ms + within)));
    }
    let window = Window { after_ms, before_ms };
    let mode = match c.mode.as_deref() {
        None | Some("ward") | Some("guarded") => Mode::Guarded,
        Some("naive") => Mode::Naive,
        Some(other) => return Err(("mode".into(), format!("`{other}`: expected \"ward\" or \"naive\""))),
    };
    let kind = match c.kind.as_str() {
        "alert_raised" => CheckKind::AlertRaised {
            cause_prefix: need("cause_prefix", &c.cause_prefix)?,
            severity_min: c.severity.as_deref().map(severity).transpose()?,
            window,
        },
        "alerts_distinct" => CheckKind::AlertsDistinct {
            cause_prefix: need("cause_prefix", &c.cause_prefix)?,
            other_prefix: need("other_prefix", &c.other_prefix)?,
        },
        "escalated" => CheckKind::Escalated { cause_prefix: c.cause_prefix.clone().unwrap_or_default() },
        "decision" => CheckKind::Decision {
            outcome: c.outcome.as_deref().map(outcome).transpose()?,
            action: c.action.as_deref().map(action_kind).transpose()?,
            contains: c.contains.clone(),
            window,
            min: c.min.unwrap_or(1),
            max: c.max,
        },
        "moves" => {
            if c.min.is_none() && c.max.is_none() {
                return Err(("min".into(), "give `min`, `max` or both".into()));
            }
            CheckKind::Moves { window, min: c.min, max: c.max }
        }
        "node_added" => CheckKind::NodeAdded {
            service: need("service", &c.service)?,
            node: need("node", &c.node)?,
            window,
            max: c.max,
            not_before: at("not_before", &c.not_before)?,
        },
        "job_ended" => {
            let end = need("end", &c.end)?;
            if !["succeeded", "rolled_back", "failed", "abandoned"].contains(&end.as_str()) {
                return Err(("end".into(), format!("`{end}`: expected succeeded, rolled_back, failed or abandoned")));
            }
            CheckKind::JobEnded { end, action: c.action.as_deref().map(action_kind).transpose()?, min: c.min.unwrap_or(1) }
        }
        "jobs_terminal_once" => CheckKind::JobsTerminalOnce,
        "notifications_delivered" => CheckKind::NotificationsDelivered,
        "placement" => CheckKind::Placement {
            service: need("service", &c.service)?,
            at_ms: at("at", &c.at)?.ok_or_else(|| ("at".to_string(), "is required for kind `placement`".to_string()))?,
            holders: c.holders.clone().unwrap_or_default(),
        },
        "time_anomaly" => CheckKind::TimeAnomaly { window },
        "no_promotion_into_site" => CheckKind::NoPromotionIntoSite { site: need("site", &c.site)?, window },
        "holders_min" => CheckKind::HoldersMin {
            service: need("service", &c.service)?,
            at_ms: at("at", &c.at)?.ok_or_else(|| ("at".to_string(), "is required for kind `holders_min`".to_string()))?,
            min: c.min.ok_or_else(|| ("min".to_string(), "is required for kind `holders_min`".to_string()))?,
        },
        "order" => CheckKind::Order { first: need("first", &c.first)?, then: need("then", &c.then)? },
        "alert_journaled" => {
            if c.min.is_none() && c.max.is_none() {
                return Err(("max".into(), "give `min`, `max` or both".into()));
            }
            CheckKind::AlertJournaled { cause_prefix: need("cause_prefix", &c.cause_prefix)?, window, min: c.min.unwrap_or(0), max: c.max }
        }
        other => {
            return Err((
                "kind".into(),
                format!(
                    "unknown check `{other}`; expected alert_raised, alerts_distinct, escalated, decision, moves, \
                     node_added, job_ended, jobs_terminal_once, notifications_delivered, placement, time_anomaly, \
                     no_promotion_into_site, holders_min, order or alert_journaled"
                ),
            ))
        }
    };
    possible(&kind, &window)?;
    Ok(CheckSpec { index, mode, note: c.note, kind })
}

/// A range no run can meet is a mistake in the file, not a finding about Ward.
fn possible(kind: &CheckKind, window: &Window) -> Result<(), FieldError> {
    if window.before_ms.is_some_and(|b| b <= window.after_ms) {
        return Err(("before".into(), "the window is empty: `before` (or `after` + `within`) must come after `after`".into()));
    }
    let (min, max) = match kind {
        CheckKind::Decision { min, max, .. } => (Some(*min), *max),
        CheckKind::Moves { min, max, .. } => (*min, *max),
        CheckKind::AlertJournaled { min, max, .. } => (Some(*min), *max),
        _ => (None, None),
    };
    match (min, max) {
        (Some(min), Some(max)) if min > max => Err((
            "min".into(),
            format!("min {min} is above max {max}, so no run can pass; `min` defaults to 1 for decisions: set `min = 0` to allow none"),
        )),
        _ => Ok(()),
    }
}

/// `ward.*`/`naive.*` bounds no run can meet.
pub fn check_bounds(who: &str, b: &RawBounds) -> Result<(), FieldError> {
    for (name, value) in [("availability_min", b.availability_min), ("availability_max", b.availability_max)] {
        if let Some(v) = value.filter(|v| !(0.0..=1.0).contains(v)) {
            return Err((format!("{who}.{name}"), format!("{v} is not an availability; write a fraction from 0 to 1 (0.999, not 99.9)")));
        }
    }
    let pairs = [
        ("availability", b.availability_min.map(|v| (v * 1e9) as u64), b.availability_max.map(|v| (v * 1e9) as u64)),
        ("moves", b.moves_min, b.moves_max),
    ];
    for (name, min, max) in pairs {
        if let (Some(min), Some(max)) = (min, max) {
            if min > max {
                return Err((format!("{who}.{name}_min"), format!("{name}_min is above {name}_max, so no run can pass")));
            }
        }
    }
    Ok(())
}

fn severity(text: &str) -> Result<Severity, FieldError> {
    match text {
        "info" => Ok(Severity::Info),
        "warning" => Ok(Severity::Warning),
        "page" => Ok(Severity::Page),
        other => Err(("severity".into(), format!("`{other}`: expected info, warning or page"))),
    }
}

fn outcome(text: &str) -> Result<Outcome, FieldError> {
    match text {
        "allow" => Ok(Outcome::Allow),
        "needs_approval" => Ok(Outcome::NeedsApproval),
        "refuse" => Ok(Outcome::Refuse),
        other => Err(("outcome".into(), format!("`{other}`: expected allow, needs_approval or refuse"))),
    }
}

fn action_kind(text: &str) -> Result<ActionKind, FieldError> {
    ActionKind::parse(text).ok_or_else(|| {
        let known: Vec<&str> = ActionKind::ALL.iter().map(|k| k.name()).collect();
        ("action".into(), format!("`{text}`: expected one of {}", known.join(", ")))
    })
}

pub fn outcome_name(o: Outcome) -> &'static str {
    o.name()
}
