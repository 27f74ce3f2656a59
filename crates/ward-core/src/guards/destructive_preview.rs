//! Destructive preview (seed 001): a sync lists what it would delete; past the
//! service's threshold it waits for an operator.

use crate::action::{Action, GuardVerdict};
use crate::guards::{Guard, GuardContext, Proposal};

pub struct DestructivePreview;

pub const NAME: &str = "destructive-preview";

impl Guard for DestructivePreview {
    fn name(&self) -> &'static str {
        NAME
    }

    fn judge(&self, ctx: &GuardContext, proposal: &Proposal) -> GuardVerdict {
        let Action::Sync { service, from, to, preview } = proposal.action else {
            return GuardVerdict::not_applicable(NAME, "not a sync");
        };
        let limit = ctx.snapshot.service(*service).sync_delete_max;
        let (from, to) = (ctx.snapshot.node_name(*from), ctx.snapshot.node_name(*to));
        if preview.files_deleted > limit {
            let sample = preview.deleted_sample.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            return GuardVerdict::needs_approval(
                NAME,
                format!(
                    "Syncing {from} -> {to} would delete {} files on {to} (limit {limit}), e.g. {sample}. Approve only if that is intended.",
                    preview.files_deleted
                ),
            );
        }
        GuardVerdict::allow(
            NAME,
            format!(
                "syncing {from} -> {to} deletes {} files (limit {limit}), adds {}, changes {}",
                preview.files_deleted, preview.files_added, preview.files_changed
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Cause, Outcome, SyncPreview};
    use crate::guards::test_support::World;

    #[test]
    fn a_sync_that_deletes_too_much_waits_for_approval() {
        let world = World::two_sites();
        let (phx, scl) = (world.node("phx1-web"), world.node("scl2-web"));
        let preview = SyncPreview { files_deleted: 48_000, deleted_sample: vec!["wikiversions.php".into()], ..SyncPreview::default() };
        let action = Action::Sync { service: world.service("web"), from: scl, to: phx, preview };
        let verdict = world.judge_with(&DestructivePreview, &action, &Cause::Operator { author: "x".into() });
        assert_eq!(verdict.outcome, Outcome::NeedsApproval);
        assert!(verdict.sentence.contains("48000") && verdict.sentence.contains("wikiversions.php"), "{}", verdict.sentence);
        let small = Action::Sync {
            service: world.service("web"),
            from: scl,
            to: phx,
            preview: SyncPreview { files_deleted: 3, ..SyncPreview::default() },
        };
        assert_eq!(world.judge_with(&DestructivePreview, &small, &Cause::Operator { author: "x".into() }).outcome, Outcome::Allow);
    }
}
