//! Destructive preview (seed 001): a sync lists what it would delete; past the
//! service's threshold it waits for an operator. An approved sync keeps the
//! preview the operator saw and is previewed again right before it runs: if the
//! fresh preview deletes more than the approved one (the source was wiped, the
//! destination grew), it is refused (`regrown`), never run on a stale approval.

use crate::action::{Action, GuardVerdict, SyncPreview};
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
            let sample = sample(preview);
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

/// The paths an operator sees as a preview's sample.
pub fn sample(preview: &SyncPreview) -> String {
    if preview.deleted_sample.is_empty() {
        return "no sample".into();
    }
    preview.deleted_sample.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
}

/// The re-check right before an approved sync runs: the refusal sentence when
/// the fresh preview deletes more than the approved one, else `None`.
pub fn regrown(from: &str, to: &str, approved: &SyncPreview, fresh: &SyncPreview) -> Option<String> {
    (fresh.files_deleted > approved.files_deleted).then(|| {
        format!(
            "Refusing to sync {from} -> {to}: it was approved to delete {} files (e.g. {}), but previewed again just before running \
             it would now delete {} (e.g. {}). Something changed since the approval; look at both trees and request the sync again.",
            approved.files_deleted,
            sample(approved),
            fresh.files_deleted,
            sample(fresh)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::{Cause, Outcome};
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

    #[test]
    fn a_preview_that_grew_since_approval_is_refused_and_one_that_shrank_is_not() {
        let approved = SyncPreview { files_deleted: 100, deleted_sample: vec!["/srv/a".into()], ..SyncPreview::default() };
        let grown = SyncPreview { files_deleted: 10_000, deleted_sample: vec!["/srv/b".into()], ..SyncPreview::default() };
        let sentence = regrown("mira", "tin", &approved, &grown).expect("refused");
        assert!(sentence.contains("approved to delete 100") && sentence.contains("now delete 10000"), "{sentence}");
        let shrunk = SyncPreview { files_deleted: 90, ..SyncPreview::default() };
        assert_eq!(regrown("mira", "tin", &approved, &shrunk), None);
        assert_eq!(regrown("mira", "tin", &approved, &approved.clone()), None);
    }
}
