//! Cross-site moves: most partitions between sites heal within a minute, and a
//! failover across them turns a short cut into a long write outage (the old
//! primary's clients lose their writer, and whatever they wrote on the far side is
//! lost or diverges). No cross-site move before the loss has lasted
//! `policy.partition_grace`; a promotion into another site then needs a person
//! unless `policy.cross_site_promotion = "allow"`.

use crate::action::{Action, Cause, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};
use crate::health::Status;
use crate::ids::NodeId;
use crate::inventory::CrossSitePromotion;
use crate::time::{human_duration, TimeMs};

pub struct CrossSite;

pub const NAME: &str = "cross-site";

/// Since when the controller has lost `node`, if it has (down, or unknown after being seen).
fn lost_since(ctx: &GuardContext, node: NodeId) -> Option<TimeMs> {
    let health = ctx.health.node(node);
    matches!(health.status, Status::Down | Status::Unknown).then_some(health.since_ms)
}

impl Guard for CrossSite {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        let policy = ctx.snapshot.policy();
        let grace = policy.partition_grace_ms;
        let (from, to, promotion, what) = match proposal.action {
            Action::Promote { from: Some(from), to, service } => {
                (*from, Some(*to), true, format!("promoting {} for {}", ctx.snapshot.node_name(*to), ctx.snapshot.service_name(*service)))
            }
            Action::MoveVip { from: Some(from), to, service } => {
                (*from, Some(*to), false, format!("moving {} to {}", ctx.snapshot.service_name(*service), ctx.snapshot.node_name(*to)))
            }
            Action::FailoverSite { site, services, nodes } => {
                let Some(&first) = nodes.first() else { return GuardVerdict::not_applicable(NAME, "no node to fail over from") };
                let primaries = services.iter().any(|s| ctx.snapshot.service(*s).kind == crate::inventory::ServiceKind::Primary);
                (first, None, primaries, format!("failing {} service(s) over out of site {site}", services.len()))
            }
            _ => return GuardVerdict::not_applicable(NAME, "not a move between nodes"),
        };
        if matches!(proposal.cause, Cause::Operator { .. }) {
            return GuardVerdict::not_applicable(NAME, "an operator asked for it");
        }
        let from_site = ctx.snapshot.node(from).site;
        if to.is_some_and(|to| ctx.snapshot.node(to).site == from_site) {
            return GuardVerdict::allow(NAME, "the move stays within one site");
        }
        let from_site_name = &ctx.snapshot.site(from_site).name;
        let to_site_name =
            to.map_or("another site".to_string(), |to| format!("site {}", ctx.snapshot.site(ctx.snapshot.node(to).site).name));
        // A site loss counts from its first node's fall; a single holder from its own.
        let since = ctx.fleet.sites.loss_of(from_site).map(|l| l.since_ms).or_else(|| lost_since(ctx, from));
        if let Some(since) = since {
            let lasted = ctx.now_ms.saturating_sub(since);
            if lasted < grace {
                return GuardVerdict::refuse(
                    NAME,
                    format!(
                        "{} (site {from_site_name}) has been out of sight for {}; no move into {to_site_name} before the loss has lasted {} \
                         (policy.partition_grace): a short partition must not become a long outage.",
                        ctx.snapshot.node_name(from),
                        human_duration(lasted),
                        human_duration(grace)
                    ),
                );
            }
        }
        if promotion && policy.cross_site_promotion == CrossSitePromotion::Approve {
            return GuardVerdict::needs_approval(
                NAME,
                format!(
                    "{what} moves writes from site {from_site_name} into {to_site_name}; that needs a person \
                     (policy.cross_site_promotion = \"approve\"). If {from_site_name} is only cut off, its clients may still be writing there."
                ),
            );
        }
        GuardVerdict::allow(NAME, format!("{what}: out of site {from_site_name} for longer than {}", human_duration(grace)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Outcome;
    use crate::guards::test_support::World;

    #[test]
    fn no_cross_site_move_within_the_grace_then_a_promotion_needs_a_person() {
        let mut world = World::two_sites();
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let service = world.service("gw");
        world.mark_down("phx1-web");
        let cause = Cause::HolderDown { node: phx };
        let promote = Action::Promote { service, from: Some(phx), to: scl };
        let verdict = world.judge_with(&CrossSite, &promote, &cause);
        assert_eq!(verdict.outcome, Outcome::Refuse, "{}", verdict.sentence);
        assert!(verdict.sentence.contains("partition_grace"), "{}", verdict.sentence);
        let move_vip = Action::MoveVip { service, from: Some(phx), to: scl };
        assert_eq!(world.judge_with(&CrossSite, &move_vip, &cause).outcome, Outcome::Refuse);
        world.now_ms += 61_000;
        let verdict = world.judge_with(&CrossSite, &promote, &cause);
        assert_eq!(verdict.outcome, Outcome::NeedsApproval, "{}", verdict.sentence);
        assert!(verdict.sentence.contains("cross_site_promotion"), "{}", verdict.sentence);
        assert_eq!(world.judge_with(&CrossSite, &move_vip, &cause).outcome, Outcome::Allow, "a VIP needs no approval after the grace");
        let operator = Cause::Operator { author: "alice".into() };
        world.now_ms -= 61_000;
        assert_eq!(world.judge_with(&CrossSite, &promote, &operator).outcome, Outcome::Allow, "a switchover is a person's call");
    }
}
