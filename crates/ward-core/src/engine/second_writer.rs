//! Never a second writer: a node that answers as a writable primary while
//! another node holds the service is fenced at once and paged, whatever brought
//! it back (a frozen VM waking up after its replacement was promoted, a host
//! returning from a partition with its agent dead, a person promoting by hand).
//! Checked every planning round on the latest observations, not only during a
//! job. A job of the service in flight (a promotion making its target writable
//! before the placement says so) is left to finish first.

use crate::action::{Action, Cause, NamedAction};
use crate::engine::plan::Wanted;
use crate::engine::{Engine, Mode};
use crate::ids::*;
use crate::journal::{JobEnd, Severity};
use crate::time::TimeMs;

impl Engine {
    /// When a fence of `node` for `service` last succeeded (among the jobs kept).
    fn last_fence_ms(&self, service: &str, node: NodeId) -> Option<TimeMs> {
        let name = self.snapshot.node_name(node);
        self.durable.finished.iter().rev().find_map(|f| match &f.action {
            NamedAction::Fence { service: s, node: n } if f.end == JobEnd::Succeeded && s == service && n == name => Some(f.at_ms),
            _ => None,
        })
    }

    pub(crate) fn fence_second_writers(&mut self, now_ms: TimeMs) {
        if self.mode != Mode::Guarded {
            return;
        }
        let stale_ms = self.snapshot.policy().stale_after_ms;
        let queued: Vec<ServiceId> = self.jobs.queued_services().collect();
        for (service, holder) in self.held_primaries() {
            let spec = self.snapshot.service(service);
            let name = spec.name.clone();
            let busy = queued.contains(&service) || self.durable.jobs.values().any(|j| j.action.service_ref() == Some(&name));
            let writer = spec.candidates.iter().copied().find(|&node| {
                node != holder
                    && self.health.node(node).writable_at_ms.is_some_and(|at| {
                        // Fenced since that answer: only a newer "writable" says the fence did not hold.
                        now_ms.saturating_sub(at) <= stale_ms && self.last_fence_ms(&name, node).is_none_or(|fenced| at > fenced)
                    })
            });
            let cause = format!("two-writers:{name}");
            let Some(node) = writer else {
                if self.durable.alerts.contains_key(&cause) {
                    let sentence = format!("only {} answers as the writable primary of {name} again", self.snapshot.node_name(holder));
                    self.resolve(now_ms, &cause, sentence);
                }
                continue;
            };
            let sentence = format!(
                "Two writable primaries for {name}: {} answers as writable while {} holds {name}. Ward fences {} now; \
                 check which writes went to it.",
                self.snapshot.node_name(node),
                self.snapshot.node_name(holder),
                self.snapshot.node_name(node)
            );
            let routes = self.service_routes(service);
            self.raise(now_ms, &cause, Severity::Page, sentence.clone(), &routes);
            if busy {
                continue;
            }
            let wanted = Wanted {
                action: Action::Fence { service, node },
                cause: Cause::SecondWriter { node, holder },
                summary: sentence,
                preview_first: false,
                prepares: None,
            };
            self.decide(now_ms, wanted);
        }
    }
}
