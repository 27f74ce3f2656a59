//! RFC 2439-style flap damping of a node's status.
//!
//! Each Up->Down transition adds `penalty_per_flap` (capped at `penalty_max`). The
//! penalty decays exponentially with `half_life_ms`, computed from elapsed time as a
//! value (`penalty * 0.5^(dt / half_life)`), so there is no timer and no clock. A node
//! is suppressed once its penalty exceeds `suppress_above` and stays suppressed until
//! the penalty decays below `reuse_below`.

use crate::inventory::Damping;
use crate::time::TimeMs;

/// A change of suppression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DampChange {
    Suppressed,
    Reused,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Damper {
    /// Penalty as of `at_ms`.
    penalty: f64,
    at_ms: TimeMs,
    suppressed: bool,
}

impl Default for Damper {
    fn default() -> Self {
        Damper { penalty: 0.0, at_ms: 0, suppressed: false }
    }
}

impl Damper {
    /// The penalty decayed to `now_ms` (never grows when time goes backwards).
    pub(crate) fn decayed(&self, now_ms: TimeMs, cfg: &Damping) -> f64 {
        if now_ms <= self.at_ms || self.penalty <= 0.0 {
            return self.penalty;
        }
        if cfg.half_life_ms == 0 {
            return 0.0;
        }
        let dt = (now_ms - self.at_ms) as f64;
        self.penalty * 0.5f64.powf(dt / cfg.half_life_ms as f64)
    }

    fn decay_to(&mut self, now_ms: TimeMs, cfg: &Damping) {
        self.penalty = self.decayed(now_ms, cfg);
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Records one Up->Down transition at `now_ms`.
    pub(crate) fn flap(&mut self, now_ms: TimeMs, cfg: &Damping) {
        self.decay_to(now_ms, cfg);
        self.penalty = (self.penalty + cfg.penalty_per_flap as f64).min(cfg.penalty_max as f64);
    }

    /// Takes back the penalty of one flap recorded at `flap_ms` (as decayed since),
    /// for a flap that turned out to be the observer's, not the node's.
    pub(crate) fn refund(&mut self, flap_ms: TimeMs, now_ms: TimeMs, cfg: &Damping) {
        self.decay_to(now_ms, cfg);
        let since = now_ms.saturating_sub(flap_ms) as f64;
        let left = if cfg.half_life_ms == 0 { 0.0 } else { cfg.penalty_per_flap as f64 * 0.5f64.powf(since / cfg.half_life_ms as f64) };
        self.penalty = (self.penalty - left).max(0.0);
    }

    /// Decays to `now_ms` and applies the suppress/reuse thresholds.
    pub(crate) fn update(&mut self, now_ms: TimeMs, cfg: &Damping) -> Option<DampChange> {
        self.decay_to(now_ms, cfg);
        if !self.suppressed && self.penalty > cfg.suppress_above as f64 {
            self.suppressed = true;
            Some(DampChange::Suppressed)
        } else if self.suppressed && self.penalty < cfg.reuse_below as f64 {
            self.suppressed = false;
            Some(DampChange::Reused)
        } else {
            None
        }
    }

    pub(crate) fn suppressed(&self) -> bool {
        self.suppressed
    }

    /// The penalty as of the last update, rounded down for display.
    pub(crate) fn penalty(&self) -> u32 {
        self.penalty.max(0.0).min(u32::MAX as f64) as u32
    }

    /// The first millisecond at or after `now_ms` at which `update` would reuse a
    /// suppressed node; `None` when not suppressed or when it never decays
    /// (a zero reuse threshold).
    pub(crate) fn reuse_at_ms(&self, now_ms: TimeMs, cfg: &Damping) -> Option<TimeMs> {
        if !self.suppressed {
            return None;
        }
        let reuse = cfg.reuse_below as f64;
        if reuse <= 0.0 {
            return None;
        }
        let from = self.at_ms.max(now_ms);
        let current = self.decayed(from, cfg);
        if current < reuse {
            return Some(from);
        }
        if cfg.half_life_ms == 0 {
            return Some(from + 1);
        }
        // penalty * 0.5^(dt/h) < reuse  <=>  dt > h * log2(penalty / reuse)
        let dt = cfg.half_life_ms as f64 * (current / reuse).log2();
        let mut at = from.saturating_add(dt.ceil().max(0.0) as u64);
        // Guard against rounding: step forward until the threshold is really crossed.
        while self.decayed(at, cfg) >= reuse {
            at = at.saturating_add(1);
        }
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::MINUTE_MS;

    fn cfg() -> Damping {
        Damping { penalty_per_flap: 1_000, half_life_ms: 15 * MINUTE_MS, suppress_above: 2_000, reuse_below: 750, penalty_max: 6_000 }
    }

    #[test]
    fn halves_every_half_life() {
        let cfg = cfg();
        let mut d = Damper::default();
        d.flap(0, &cfg);
        assert_eq!(d.decayed(15 * MINUTE_MS, &cfg), 500.0);
        assert_eq!(d.decayed(30 * MINUTE_MS, &cfg), 250.0);
        // Time going backwards never increases the penalty.
        d.update(30 * MINUTE_MS, &cfg);
        assert_eq!(d.decayed(0, &cfg), 250.0);
    }

    #[test]
    fn three_quick_flaps_suppress_then_reuse_after_quiet() {
        let cfg = cfg();
        let mut d = Damper::default();
        for t in [0, MINUTE_MS, 2 * MINUTE_MS] {
            d.flap(t, &cfg);
            if t < 2 * MINUTE_MS {
                assert_eq!(d.update(t, &cfg), None);
            }
        }
        assert_eq!(d.update(2 * MINUTE_MS, &cfg), Some(DampChange::Suppressed));
        assert!(d.suppressed());
        assert!(d.penalty() > 2_000);
        let reuse = d.reuse_at_ms(2 * MINUTE_MS, &cfg).unwrap();
        assert_eq!(d.update(reuse - 1, &cfg), None);
        assert!(d.suppressed());
        assert_eq!(d.update(reuse, &cfg), Some(DampChange::Reused));
        assert!(d.penalty() < 750);
        assert_eq!(d.reuse_at_ms(reuse, &cfg), None);
    }

    #[test]
    fn stays_suppressed_between_thresholds() {
        let cfg = cfg();
        let mut d = Damper::default();
        for _ in 0..3 {
            d.flap(0, &cfg);
        }
        d.update(0, &cfg);
        // 3000 -> 1500 after one half-life: below suppress, above reuse: still suppressed.
        assert_eq!(d.update(15 * MINUTE_MS, &cfg), None);
        assert!(d.suppressed());
    }

    #[test]
    fn penalty_is_capped() {
        let cfg = cfg();
        let mut d = Damper::default();
        for _ in 0..20 {
            d.flap(0, &cfg);
        }
        d.update(0, &cfg);
        assert_eq!(d.penalty(), 6_000);
    }

    #[test]
    fn zero_half_life_decays_at_once() {
        let cfg = Damping { half_life_ms: 0, ..cfg() };
        let mut d = Damper::default();
        for _ in 0..3 {
            d.flap(10, &cfg);
        }
        assert_eq!(d.update(10, &cfg), Some(DampChange::Suppressed));
        assert_eq!(d.reuse_at_ms(10, &cfg), Some(11));
        assert_eq!(d.update(11, &cfg), Some(DampChange::Reused));
    }

    #[test]
    fn a_refunded_flap_takes_its_decayed_penalty_back() {
        let mut d = Damper::default();
        d.flap(0, &cfg());
        d.flap(MINUTE_MS, &cfg());
        d.flap(2 * MINUTE_MS, &cfg());
        assert_eq!(d.update(2 * MINUTE_MS, &cfg()), Some(DampChange::Suppressed));
        for at in [0, MINUTE_MS, 2 * MINUTE_MS] {
            d.refund(at, 3 * MINUTE_MS, &cfg());
        }
        assert!(d.decayed(3 * MINUTE_MS, &cfg()) < 1.0, "{}", d.decayed(3 * MINUTE_MS, &cfg()));
        assert_eq!(d.update(3 * MINUTE_MS, &cfg()), Some(DampChange::Reused));
        d.refund(0, 4 * MINUTE_MS, &cfg());
        assert_eq!(d.penalty(), 0, "never below zero");
    }
}
