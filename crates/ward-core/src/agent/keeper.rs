//! The agent's side of the lease, sans-IO: it is told when renewals were sent and
//! answered and what its probes see, with its own monotonic time as a value, and
//! says whether to fence its own server.
//!
//! The rule, per primary service whose server on this host answers as writable:
//! - the controller lists the service in `stay_fenced`: fence (Ward fenced it and
//!   counts on it staying so);
//! - the lease is valid: keep;
//! - the lease ran out and another member answers as a writable primary: fence
//!   (someone was promoted around this host while it was frozen or cut off);
//! - the lease ran out and more than half of the service's other members are in
//!   sight: keep. The controller alone is gone, and a controller outage must
//!   never become a fleet-wide write outage;
//! - otherwise fence: this host sees neither the controller nor a majority, so the
//!   controller may promote around it once the lease and its margin have passed.
//!
//! The controller counts on the mirror image: it promotes around an unanswering
//! primary only after lease + margin, and only when more than half of the other
//! members' agents report they cannot reach it either.

use super::wire::LeaseAnswer;

/// One other member of a service as this agent's probes see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerSight {
    pub node: String,
    pub reachable: bool,
    pub writable: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to do.
    Keep,
    /// The lease ran out but a majority is in sight: keep serving, and say so.
    KeepWithoutLease(String),
    /// Fence the local server for these services now. `own`: those fenced by
    /// the agent's own rule (the lease), to report as `self_fenced` until the
    /// controller counts them; the rest the controller asked for.
    Fence { services: Vec<String>, own: Vec<String>, sentence: String },
}

#[derive(Clone, Debug)]
pub struct LeaseKeeper {
    /// Agent-monotonic time until which the lease holds; None: never granted.
    valid_until_ms: Option<u64>,
    token_seen: u64,
    stay_fenced: Vec<String>,
    /// Services this agent fenced by its own rule that the controller has not
    /// counted yet (reported in every renewal until an answer lists them).
    self_fenced: Vec<String>,
}

impl LeaseKeeper {
    /// `token_seen`: the highest token persisted by an earlier run of this agent.
    pub fn new(token_seen: u64) -> LeaseKeeper {
        LeaseKeeper { valid_until_ms: None, token_seen, stay_fenced: Vec::new(), self_fenced: Vec::new() }
    }

    /// An agent that just started has heard neither the controller nor its peers:
    /// it judges nothing until `grace_ms` after `now_ms` (one lease), as if it held
    /// a lease from its start. Ward never counts on an agent it has not heard, so an
    /// isolated host starting up fences one lease later, not at once.
    pub fn start_grace(&mut self, now_ms: u64, grace_ms: u64) {
        if self.valid_until_ms.is_none() {
            self.valid_until_ms = Some(now_ms.saturating_add(grace_ms));
        }
    }

    pub fn token_seen(&self) -> u64 {
        self.token_seen
    }

    pub fn valid_until_ms(&self) -> Option<u64> {
        self.valid_until_ms
    }

    pub fn stay_fenced(&self) -> &[String] {
        &self.stay_fenced
    }

    /// What the next renewal reports as fenced by this agent's own rule.
    pub fn self_fenced(&self) -> &[String] {
        &self.self_fenced
    }

    /// The fence a `Decision::Fence` asked for was carried out.
    pub fn fenced(&mut self, own: &[String]) {
        for service in own {
            if !self.self_fenced.contains(service) {
                self.self_fenced.push(service.clone());
            }
        }
    }

    /// A renewal sent at `sent_at_ms` (agent-monotonic) was answered. The lease
    /// counts from the sending, never from the answer: the controller granted it at
    /// some moment in between, so this end always runs out first. Ok(true): the
    /// token rose, persist it before acting on the answer. Err: refused (a lower
    /// token than one already seen: a deposed controller), the lease unchanged.
    pub fn on_answer(&mut self, sent_at_ms: u64, answer: &LeaseAnswer) -> Result<bool, String> {
        if answer.token < self.token_seen {
            return Err(format!(
                "refused an answer with fencing token {} lower than {} already seen: that controller was replaced",
                answer.token, self.token_seen
            ));
        }
        let rose = answer.token > self.token_seen;
        self.token_seen = answer.token;
        self.stay_fenced = answer.stay_fenced.clone();
        // Counted by the controller: its own list says so from now on.
        self.self_fenced.retain(|s| !answer.stay_fenced.contains(s));
        if answer.granted {
            let until = sent_at_ms.saturating_add(answer.lease_ms);
            self.valid_until_ms = Some(self.valid_until_ms.map_or(until, |u| u.max(until)));
        }
        Ok(rose)
    }

    pub fn lease_valid(&self, now_ms: u64) -> bool {
        self.valid_until_ms.is_some_and(|until| now_ms < until)
    }

    /// What to do now, asked after every renewal attempt. `services`: each primary
    /// service whose server on this host answers as a writable primary, with what
    /// the agent sees of its other members (empty when none is writable).
    ///
    /// The controller's `stay_fenced` is acted on once per answer that carries
    /// it: between answers Ward may give the writes back (an unfence job) before
    /// this agent hears of it, and re-fencing on an old instruction would undo that.
    pub fn decide(&mut self, now_ms: u64, services: &[(String, Vec<PeerSight>)]) -> Decision {
        let stay = std::mem::take(&mut self.stay_fenced);
        let mut fence = Vec::new();
        let mut own = Vec::new();
        let mut why = Vec::new();
        let mut kept = Vec::new();
        for (service, peers) in services {
            if stay.contains(service) {
                fence.push(service.clone());
                why.push(format!("the controller counts on {service} being fenced here"));
                continue;
            }
            if self.lease_valid(now_ms) {
                continue;
            }
            if let Some(writer) = peers.iter().find(|p| p.writable) {
                fence.push(service.clone());
                own.push(service.clone());
                why.push(format!("{} answers as the writable primary of {service}", writer.node));
                continue;
            }
            // A service with no other member has nobody to be promoted around it:
            // fencing would only stop its writes.
            if peers.is_empty() {
                continue;
            }
            let reachable = peers.iter().filter(|p| p.reachable).count();
            if reachable * 2 > peers.len() {
                kept.push(format!("{service}: {reachable} of {} other members in sight", peers.len()));
            } else {
                fence.push(service.clone());
                own.push(service.clone());
                why.push(format!(
                    "{service}: only {reachable} of {} other members in sight, so the controller may promote one of them",
                    peers.len()
                ));
            }
        }
        if !fence.is_empty() {
            let lease = match self.valid_until_ms {
                None => "no lease was ever granted".to_string(),
                Some(until) if now_ms >= until => format!("the lease ran out {} ms ago", now_ms - until),
                Some(_) => "the lease is still valid".to_string(),
            };
            return Decision::Fence { services: fence, own, sentence: format!("fencing this server: {lease}; {}", why.join("; ")) };
        }
        if !kept.is_empty() {
            return Decision::KeepWithoutLease(format!(
                "the controller has not renewed this host's lease, but a majority of the other members is in sight, \
                 so this is a controller outage: keeping the primary writable ({})",
                kept.join("; ")
            ));
        }
        Decision::Keep
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(token: u64) -> LeaseAnswer {
        LeaseAnswer { granted: true, token, lease_ms: 5_000, renew_every_ms: 1_000, ..LeaseAnswer::default() }
    }

    fn peers(states: &[(bool, bool)]) -> Vec<PeerSight> {
        states
            .iter()
            .enumerate()
            .map(|(i, &(reachable, writable))| PeerSight { node: format!("pg{}", i + 2), reachable, writable })
            .collect()
    }

    fn one(peers: Vec<PeerSight>) -> Vec<(String, Vec<PeerSight>)> {
        vec![("db".to_string(), peers)]
    }

    #[test]
    fn the_lease_counts_from_the_sending_and_keeps_while_valid() {
        let mut keeper = LeaseKeeper::new(0);
        assert_eq!(keeper.on_answer(1_000, &granted(7)), Ok(true));
        assert!(keeper.lease_valid(5_999));
        assert!(!keeper.lease_valid(6_000));
        // Nobody in sight, but the lease holds: keep.
        assert_eq!(keeper.decide(5_000, &one(peers(&[(false, false), (false, false)]))), Decision::Keep);
    }

    #[test]
    fn a_controller_outage_alone_never_fences() {
        let mut keeper = LeaseKeeper::new(0);
        keeper.on_answer(0, &granted(7)).unwrap();
        let decision = keeper.decide(60_000, &one(peers(&[(true, false), (true, false)])));
        assert!(matches!(decision, Decision::KeepWithoutLease(ref s) if s.contains("controller outage")), "{decision:?}");
    }

    #[test]
    fn a_lapsed_lease_with_no_majority_in_sight_fences() {
        let mut keeper = LeaseKeeper::new(0);
        keeper.on_answer(0, &granted(7)).unwrap();
        // One of two other members is not a majority of them.
        let decision = keeper.decide(6_000, &one(peers(&[(true, false), (false, false)])));
        assert!(matches!(decision, Decision::Fence { ref sentence, .. } if sentence.contains("only 1 of 2")), "{decision:?}");
    }

    #[test]
    fn a_lapsed_lease_and_another_writable_member_fences_even_with_everyone_in_sight() {
        let mut keeper = LeaseKeeper::new(0);
        keeper.on_answer(0, &granted(7)).unwrap();
        let decision = keeper.decide(90_000, &one(peers(&[(true, true), (true, false)])));
        assert!(matches!(decision, Decision::Fence { ref sentence, .. } if sentence.contains("pg2 answers as the writable primary")));
    }

    #[test]
    fn a_service_with_no_other_member_is_never_fenced_for_a_lapsed_lease() {
        let mut keeper = LeaseKeeper::new(0);
        assert_eq!(keeper.decide(1_000_000, &one(Vec::new())), Decision::Keep);
    }

    #[test]
    fn a_lower_token_is_refused_and_changes_nothing() {
        let mut keeper = LeaseKeeper::new(9);
        let err = keeper.on_answer(0, &granted(8)).unwrap_err();
        assert!(err.contains("lower than 9"));
        assert!(!keeper.lease_valid(1));
        assert_eq!(keeper.on_answer(0, &granted(9)), Ok(false));
        assert!(keeper.lease_valid(1));
    }

    #[test]
    fn stay_fenced_fences_whatever_the_lease() {
        let mut keeper = LeaseKeeper::new(0);
        let mut answer = granted(7);
        answer.stay_fenced = vec!["db".into()];
        keeper.on_answer(0, &answer).unwrap();
        assert!(matches!(keeper.decide(1, &one(peers(&[(true, false)]))), Decision::Fence { .. }));
        // Acted on once: Ward may give the writes back before the next answer.
        assert_eq!(keeper.decide(2, &one(peers(&[(true, false)]))), Decision::Keep);
    }

    #[test]
    fn a_self_fence_is_reported_until_the_controller_counts_it() {
        let mut keeper = LeaseKeeper::new(0);
        keeper.on_answer(0, &granted(7)).unwrap();
        let Decision::Fence { own, .. } = keeper.decide(6_000, &one(peers(&[(false, false), (false, false)]))) else { panic!() };
        keeper.fenced(&own);
        assert_eq!(keeper.self_fenced(), ["db".to_string()]);
        keeper.on_answer(6_000, &granted(7)).unwrap();
        assert_eq!(keeper.self_fenced(), ["db".to_string()], "not counted yet");
        let mut counted = granted(7);
        counted.stay_fenced = vec!["db".into()];
        keeper.on_answer(7_000, &counted).unwrap();
        assert!(keeper.self_fenced().is_empty());
        // A fence the controller asked for is not the agent's own.
        let Decision::Fence { own, .. } = keeper.decide(7_001, &one(peers(&[(true, false)]))) else { panic!() };
        assert!(own.is_empty());
    }

    #[test]
    fn a_starting_agent_judges_nothing_for_one_lease() {
        let mut keeper = LeaseKeeper::new(0);
        keeper.start_grace(1_000, 5_000);
        let nobody = one(peers(&[(false, false), (false, false)]));
        assert_eq!(keeper.decide(5_999, &nobody), Decision::Keep);
        assert!(matches!(keeper.decide(6_000, &nobody), Decision::Fence { .. }));
    }

    #[test]
    fn a_late_answer_never_shortens_the_lease() {
        let mut keeper = LeaseKeeper::new(0);
        keeper.on_answer(3_000, &granted(7)).unwrap();
        keeper.on_answer(1_000, &granted(7)).unwrap();
        assert_eq!(keeper.valid_until_ms(), Some(8_000));
    }
}
