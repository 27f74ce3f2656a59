//! Guards: named units that judge every planned action.
//!
//! Each guard answers allow / needs approval / refuse with one sentence a tired
//! operator understands at 3 a.m. The combined verdict is the strictest answer.
//! A refusal is final; "needs approval" turns into "allow" only for a decision an
//! operator approved. Holds can never be approved away.
//! The planner also uses the node-level checks here (`eligibility`) to choose
//! candidates, so the reason a candidate was passed over is the same sentence a
//! guard would give.

pub mod budget;
pub mod controller_majority;
pub mod cross_site;
pub mod damping;
pub mod data_loss;
pub mod destructive_preview;
pub mod eligibility;
pub mod failure_backoff;
pub mod holds;
pub mod integrity;
pub mod observer_quorum;
pub mod pending_approval;
pub mod readiness;
pub mod role_holder;
pub mod rollout_scope;
pub mod single_writer;
pub mod time_sanity;

use crate::action::{Action, Cause, GuardVerdict, Outcome, Verdict};
use crate::health::time_sanity::TimeSanity;
use crate::health::HealthTable;
use crate::inventory::Snapshot;
use crate::mode::Mode;
use crate::state::Durable;
use crate::time::TimeMs;

/// What the fleet looks like in this planning round.
#[derive(Clone, Debug, Default)]
pub struct FleetView {
    pub nodes_total: u32,
    pub nodes_down: u32,
    /// Names of observers currently suspected of being cut off themselves.
    pub suspect_observers: Vec<String>,
    pub observers_total: u32,
    /// Names of observers nothing has arrived from for too long.
    pub silent_observers: Vec<String>,
    /// Sites lost as a whole, and sites going dark.
    pub sites: crate::health::site_loss::SiteView,
}

/// Everything a guard may read. Guards never change anything.
pub struct GuardContext<'a> {
    pub now_ms: TimeMs,
    pub mode: Mode,
    pub snapshot: &'a Snapshot,
    pub health: &'a HealthTable,
    pub durable: &'a Durable,
    pub time: &'a TimeSanity,
    pub fleet: &'a FleetView,
    pub leases: &'a crate::health::agent_leases::AgentLeases,
}

/// One proposed action and why the planner wants it.
pub struct Proposal<'a> {
    pub action: &'a Action,
    pub cause: &'a Cause,
}

pub trait Guard {
    fn name(&self) -> &'static str;
    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict;
}

/// Every guard, in the order their sentences are shown.
pub fn all() -> [&'static dyn Guard; 16] {
    [
        &holds::Holds,
        &failure_backoff::FailureBackoff,
        &time_sanity::TimeSanityGuard,
        &integrity::InventoryIntegrity,
        &observer_quorum::ObserverQuorum,
        &controller_majority::ControllerMajority,
        &cross_site::CrossSite,
        &readiness::CandidateReadiness,
        &damping::FlapDamping,
        &single_writer::SingleWriter,
        &destructive_preview::DestructivePreview,
        &role_holder::RoleHolder,
        &budget::BlastRadiusBudget,
        &pending_approval::PendingApproval,
        &rollout_scope::RolloutScopeGuard,
        // Last: an allowed promotion's journal line then says why no acknowledged
        // write is lost (or, allowed by policy, how much may be).
        &data_loss::AcknowledgedWrites,
    ]
}

/// Runs every guard. `approved_by`: an operator approved this decision, so
/// "needs approval" becomes "allow"; refusals stand.
pub fn judge(ctx: &GuardContext, proposal: &Proposal, approved_by: Option<&str>) -> Verdict {
    judge_except(ctx, proposal, approved_by, None)
}

/// As `judge`, leaving out one guard: the planner asks whether a promotion could
/// follow a fence before it fences, so single-writer (which wants the fence
/// first) is not asked.
pub fn judge_except(ctx: &GuardContext, proposal: &Proposal, approved_by: Option<&str>, skip: Option<&str>) -> Verdict {
    if ctx.mode == Mode::Naive {
        return Verdict::combine(vec![GuardVerdict::allow("naive-baseline", "the naive baseline runs without guards")]);
    }
    let verdicts = all()
        .iter()
        .filter(|guard| Some(guard.name()) != skip)
        .map(|guard| {
            let mut verdict = guard.judge(ctx, proposal);
            debug_assert_eq!(verdict.guard, guard.name(), "a verdict is signed by the guard that gave it");
            if let (Outcome::NeedsApproval, Some(author)) = (verdict.outcome, approved_by) {
                verdict.outcome = Outcome::Allow;
                verdict.sentence = format!("{} Approved by {author}.", verdict.sentence);
            }
            verdict
        })
        .collect();
    Verdict::combine(verdicts)
}

#[cfg(test)]
pub(crate) mod test_support;
