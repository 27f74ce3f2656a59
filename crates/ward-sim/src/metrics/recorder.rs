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
    /// Per primary service: (has a writer, writer stranded by a fence) now, and
    /// since when it has been without a writer / stranded.
    writers_now: Vec<(bool, bool)>,
    writerless_since: Vec<Option<u64>>,
    stranded_since: Vec<Option<u64>>,
    /// The longest stretch any primary service had no working writer.
    pub writerless_max_ms: u64,
    /// The longest stretch any primary's working holder stayed fenced with no
    /// other writer (a fence whose promotion did not follow).
    pub stranded_max_ms: u64,
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
        self.account_stretches(now_ms);
    }

    /// Re-reads the world after a change.
    pub fn refresh(&mut self, world: &World) {
        for (i, a) in self.current.iter_mut().enumerate() {
            *a = world.availability(i);
        }
        self.split_brain_now = world.split_brain();
        self.writers_now = world.primary_writers();
        self.writerless_since.resize(self.writers_now.len(), None);
        self.stranded_since.resize(self.writers_now.len(), None);
        for (i, (has_writer, stranded)) in self.writers_now.iter().enumerate() {
            let at = world.now_ms;
            self.writerless_since[i] = if *has_writer { None } else { self.writerless_since[i].or(Some(at)) };
            self.stranded_since[i] = if *stranded { self.stranded_since[i].or(Some(at)) } else { None };
        }
        let overall = self.overall();
        if self.overall_log.last().is_none_or(|(_, o)| *o != overall) {
            self.overall_log.push((world.now_ms, overall));
        }
    }

    /// Extends the longest writerless and stranded stretches to `now_ms`.
    fn account_stretches(&mut self, now_ms: u64) {
        for since in self.writerless_since.iter().flatten() {
            self.writerless_max_ms = self.writerless_max_ms.max(now_ms.saturating_sub(*since));
        }
        for since in self.stranded_since.iter().flatten() {
            self.stranded_max_ms = self.stranded_max_ms.max(now_ms.saturating_sub(*since));
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
