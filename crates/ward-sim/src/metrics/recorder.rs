//! Integrates what clients experienced over virtual time. The world's state is
//! piecewise constant between events, so integrating at event boundaries is exact.

use crate::world::World;

#[derive(Clone, Debug, Default)]
pub struct Recorder {
    pub services: Vec<String>,
    /// Current availability per service, recomputed when the world changes.
    current: Vec<f64>,
    split_brain_now: bool,
    pub last_ms: u64,
    /// Integral of availability over time, per service (ms).
    pub available_ms: Vec<f64>,
    /// Time each service was below full availability.
    pub degraded_ms: Vec<u64>,
    pub split_brain_ms: u64,
    /// Time the whole fleet was below full availability.
    pub any_degraded_ms: u64,
    /// (time, overall availability) at every change, for time-to-recover.
    pub overall_log: Vec<(u64, f64)>,
}

impl Recorder {
    pub fn new(world: &World) -> Recorder {
        let n = world.services.len();
        let mut r = Recorder {
            services: world.services.iter().map(|s| s.name.clone()).collect(),
            current: vec![1.0; n],
            available_ms: vec![0.0; n],
            degraded_ms: vec![0; n],
            ..Recorder::default()
        };
        r.refresh(world);
        r
    }

    /// Accounts for the time from the last call to `now_ms` with the state then.
    pub fn advance(&mut self, now_ms: u64) {
        let dt = now_ms.saturating_sub(self.last_ms);
        if dt == 0 {
            return;
        }
        for (i, a) in self.current.iter().enumerate() {
            self.available_ms[i] += a * dt as f64;
            if *a < 1.0 {
                self.degraded_ms[i] += dt;
            }
        }
        if self.current.iter().any(|a| *a < 1.0) {
            self.any_degraded_ms += dt;
        }
        if self.split_brain_now {
            self.split_brain_ms += dt;
        }
        self.last_ms = now_ms;
    }

    /// Re-reads the world after a change.
    pub fn refresh(&mut self, world: &World) {
        for (i, a) in self.current.iter_mut().enumerate() {
            *a = world.availability(i);
        }
        self.split_brain_now = world.split_brain();
        let overall = self.overall();
        if self.overall_log.last().is_none_or(|(_, o)| *o != overall) {
            self.overall_log.push((world.now_ms, overall));
        }
    }

    pub fn overall(&self) -> f64 {
        if self.current.is_empty() {
            1.0
        } else {
            self.current.iter().sum::<f64>() / self.current.len() as f64
        }
    }
}
