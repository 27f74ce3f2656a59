//! Acknowledged writes: an automatic promotion goes ahead on its own only to a
//! standby known to hold every commit the old primary acknowledged: a synchronous
//! standby in sync, or one that received at least the old primary's last reported
//! flush position (both as the old primary last said, at most
//! `policy.evidence_max_age` before it failed). Any other promotion may lose
//! acknowledged writes: it needs a person's approval (`policy.promotion_data_loss =
//! "approve"`, the default), and its sentence says how much may be lost, in bytes and
//! seconds. Answers the replica whose replication had silently stopped and that was
//! promoted the moment its source went down, losing every write since.

use crate::action::{Action, Cause, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::health::Status;
use crate::ids::NodeId;
use crate::inventory::PromotionDataLoss;
use crate::time::{human_duration, TimeMs};

pub struct AcknowledgedWrites;

pub const NAME: &str = "acknowledged-writes";

/// What Ward knows about whether a standby holds every acknowledged commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holding {
    /// It does; the sentence says how Ward knows.
    Everything(String),
    /// It may not. `bytes`: how far it is behind the old primary's last flush
    /// position (None: unknown); `seconds`: that gap at the old primary's write rate.
    MayLose { bytes: Option<u64>, seconds: Option<u64>, why: String },
}

impl Holding {
    pub fn everything(&self) -> bool {
        matches!(self, Holding::Everything(_))
    }

    /// "about 4.0 MB (about 40s of writes)", or what is not known.
    pub fn loss(&self) -> String {
        match self {
            Holding::Everything(_) => "nothing".into(),
            Holding::MayLose { bytes: Some(bytes), seconds: Some(seconds), .. } => {
                format!("up to {bytes} bytes of WAL, about {} of writes", human_duration(seconds * 1_000))
            }
            Holding::MayLose { bytes: Some(bytes), seconds: None, .. } => {
                format!("up to {bytes} bytes of WAL (how many seconds of writes is unknown: no write rate was observed)")
            }
            Holding::MayLose { bytes: None, .. } => "an unknown amount (bytes and seconds unknown)".into(),
        }
    }
}

/// When the old primary stopped acknowledging writes, as far as Ward can tell: when
/// it was confirmed down (or went unknown), now if it still answers.
fn stopped_at(ctx: &GuardContext, old: NodeId) -> TimeMs {
    let health = ctx.health.node(old);
    match health.status {
        Status::Up => ctx.now_ms,
        Status::Down | Status::Unknown => health.since_ms,
    }
}

/// Whether `node` holds every commit `old` acknowledged.
pub fn holding(ctx: &GuardContext, old: NodeId, node: NodeId) -> Holding {
    let (old_name, name) = (ctx.snapshot.node_name(old), ctx.snapshot.node_name(node));
    let max_age = ctx.snapshot.policy().evidence_max_age_ms;
    let stopped = stopped_at(ctx, old);
    let report = ctx.health.node(old).primary.as_ref();
    let Some(report) = report.filter(|r| r.at_ms.saturating_add(max_age) >= stopped) else {
        let why = match report {
            None => format!("{old_name} never reported its flush position to this controller"),
            Some(r) => format!(
                "{old_name}'s last report of its flush position was {} old when it stopped (bound {})",
                human_duration(stopped.saturating_sub(r.at_ms)),
                human_duration(max_age)
            ),
        };
        return Holding::MayLose { bytes: None, seconds: None, why };
    };
    if report.synchronous_standbys.iter().any(|s| s == name) {
        return Holding::Everything(format!(
            "{name} was a synchronous standby in sync with {old_name}: every commit {old_name} acknowledged waited for it"
        ));
    }
    let standby = ctx.health.node(node);
    let received = standby.replication_evidence.received_position.unwrap_or(0).max(standby.replayed_position);
    let Some(flush) = report.flush_position else {
        return Holding::MayLose {
            bytes: None,
            seconds: None,
            why: format!("{old_name} reports no flush position, so whether {name} has all it acknowledged is unknown"),
        };
    };
    if received >= flush {
        return Holding::Everything(format!(
            "{name} has received up to position {received}, at or past {old_name}'s last reported flush position {flush}"
        ));
    }
    let bytes = flush - received;
    let seconds = report.flush_per_s.filter(|rate| *rate > 0).map(|rate| bytes.div_ceil(rate));
    Holding::MayLose {
        bytes: Some(bytes),
        seconds,
        why: format!("{name} has received up to position {received}, {old_name} had flushed up to {flush}"),
    }
}

impl Guard for AcknowledgedWrites {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        let Action::Promote { from: Some(old), to, .. } = proposal.action else {
            return GuardVerdict::not_applicable(NAME, "not a promotion replacing a primary");
        };
        if old == to {
            return GuardVerdict::not_applicable(NAME, "the node is already the primary");
        }
        let name = ctx.snapshot.node_name(*to);
        let holding = holding(ctx, *old, *to);
        let why = match &holding {
            Holding::Everything(how) => return GuardVerdict::allow(NAME, format!("{how}; no acknowledged write is lost")),
            Holding::MayLose { why, .. } => why,
        };
        let stated = format!("Promoting {name} may lose acknowledged writes: {why}; it may lose {}.", holding.loss());
        if let Cause::Operator { author } = proposal.cause {
            return GuardVerdict::allow(NAME, format!("{stated} {author} asked for this promotion."));
        }
        match ctx.snapshot.policy().promotion_data_loss {
            PromotionDataLoss::Approve => GuardVerdict::needs_approval(
                NAME,
                format!("{stated} A person must accept that loss (or bring {} back).", ctx.snapshot.node_name(*old)),
            ),
            PromotionDataLoss::Allow => {
                GuardVerdict::allow(NAME, format!("{stated} policy.promotion_data_loss = \"allow\" accepts that loss."))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Cause, Outcome};
    use crate::guards::test_support::{primary_status, replication_status, World};

    fn promote(world: &World, to: &str) -> Action {
        Action::Promote { service: world.service("db"), from: Some(world.node("pg1")), to: world.node(to) }
    }

    fn judge(world: &World, to: &str) -> GuardVerdict {
        world.judge_with(&AcknowledgedWrites, &promote(world, to), &Cause::HolderDown { node: world.node("pg1") })
    }

    /// pg1 flushes 1,000 positions a second; pg2 is 4,000 behind, pg3 has everything.
    fn cluster() -> World {
        let mut world = World::primary_cluster();
        for round in 0..3u64 {
            let flush = 10_000 + round * 1_000;
            world.details.insert("pg1".into(), primary_status(Some(flush), &[]));
            world.details.insert("pg2".into(), replication_status(true, Some(4_000), flush - 4_000));
            world.details.insert("pg3".into(), replication_status(true, Some(0), flush));
            world.observe_all();
        }
        world.mark_down("pg1");
        world
    }

    #[test]
    fn a_standby_with_every_acknowledged_commit_is_promoted() {
        let world = cluster();
        let verdict = judge(&world, "pg3");
        assert_eq!(verdict.outcome, Outcome::Allow, "{}", verdict.sentence);
        assert!(verdict.sentence.contains("at or past pg1's last reported flush position"), "{}", verdict.sentence);
    }

    #[test]
    fn a_standby_behind_needs_approval_and_the_loss_is_stated() {
        let world = cluster();
        let verdict = judge(&world, "pg2");
        assert_eq!(verdict.outcome, Outcome::NeedsApproval, "{}", verdict.sentence);
        assert!(verdict.sentence.contains("4000 bytes"), "{}", verdict.sentence);
        assert!(verdict.sentence.contains("about 4s of writes"), "{}", verdict.sentence);
        let asked = world.judge_with(&AcknowledgedWrites, &promote(&world, "pg2"), &Cause::Operator { author: "rita".into() });
        assert_eq!(asked.outcome, Outcome::Allow, "{}", asked.sentence);
        assert!(asked.sentence.contains("4000 bytes") && asked.sentence.contains("rita asked"), "{}", asked.sentence);
    }

    #[test]
    fn policy_allow_promotes_but_still_states_the_loss() {
        let mut world = cluster();
        world.set_policy(|p| p.promotion_data_loss = PromotionDataLoss::Allow);
        let verdict = judge(&world, "pg2");
        assert_eq!(verdict.outcome, Outcome::Allow, "{}", verdict.sentence);
        assert!(verdict.sentence.contains("may lose up to 4000 bytes"), "{}", verdict.sentence);
    }

    #[test]
    fn a_synchronous_standby_holds_everything_even_if_it_replayed_less() {
        let mut world = World::primary_cluster();
        world.details.insert("pg1".into(), primary_status(Some(10_000), &["pg2"]));
        world.details.insert("pg2".into(), replication_status(true, Some(9_000), 1_000));
        world.observe_all();
        world.mark_down("pg1");
        let verdict = judge(&world, "pg2");
        assert_eq!(verdict.outcome, Outcome::Allow, "{}", verdict.sentence);
        assert!(verdict.sentence.contains("synchronous standby in sync"), "{}", verdict.sentence);
    }

    #[test]
    fn an_unknown_flush_position_is_never_fine() {
        let mut world = World::primary_cluster();
        world.details.insert("pg2".into(), replication_status(true, Some(0), 10_000));
        world.observe_all();
        world.mark_down("pg1");
        let verdict = judge(&world, "pg2");
        assert_eq!(verdict.outcome, Outcome::NeedsApproval, "{}", verdict.sentence);
        assert!(verdict.sentence.contains("never reported its flush position"), "{}", verdict.sentence);
        assert!(verdict.sentence.contains("unknown amount"), "{}", verdict.sentence);
    }

    #[test]
    fn a_flush_position_reported_long_before_the_failure_does_not_count() {
        let mut world = World::primary_cluster();
        world.details.insert("pg1".into(), primary_status(Some(10_000), &[]));
        world.details.insert("pg2".into(), replication_status(true, Some(0), 10_000));
        world.observe_all();
        // pg1 keeps answering but stops reporting its position; then it dies.
        world.details.remove("pg1");
        world.advance_stable(120_000);
        world.mark_down("pg1");
        let verdict = judge(&world, "pg2");
        assert_eq!(verdict.outcome, Outcome::NeedsApproval, "{}", verdict.sentence);
        assert!(verdict.sentence.contains("old when it stopped"), "{}", verdict.sentence);
    }
}
