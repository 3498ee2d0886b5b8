//! A circuit breaker per provider: after `threshold` consecutive failures the circuit opens
//! and calls are refused for `cool_down` (the stage runs offline meanwhile); then one probe
//! call is let through (half-open): success closes the circuit, failure opens it again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// The breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cool_down: Duration,
    state: Mutex<State>,
}

impl CircuitBreaker {
    /// Opens after `threshold` consecutive failures, for `cool_down`.
    pub fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_down,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a call go out now? In half-open state only one probe at a time may.
    pub fn allow(&self) -> bool {
        self.allow_at(Instant::now())
    }

    fn allow_at(&self, now: Instant) -> bool {
        let mut s = self.lock();
        match *s {
            State::Closed { .. } => true,
            State::Open { until } if now >= until => {
                *s = State::HalfOpen { probing: true };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { probing: true } => false,
            State::HalfOpen { probing: false } => {
                *s = State::HalfOpen { probing: true };
                true
            }
        }
    }

    /// Records the outcome of a call that was allowed; returns true when the circuit is
    /// open afterwards (refusing calls until a probe succeeds).
    pub fn record(&self, success: bool) -> bool {
        self.record_at(success, Instant::now())
    }

    fn record_at(&self, success: bool, now: Instant) -> bool {
        let mut s = self.lock();
        *s = match (*s, success) {
            (_, true) => State::Closed { failures: 0 },
            (State::Closed { failures }, false) if failures + 1 >= self.threshold => State::Open {
                until: now + self.cool_down,
            },
            (State::Closed { failures }, false) => State::Closed { failures: failures + 1 },
            (State::HalfOpen { .. }, false) | (State::Open { .. }, false) => State::Open {
                until: now + self.cool_down,
            },
        };
        matches!(*s, State::Open { .. })
    }

    /// A call that was allowed ended without an outcome (its run was cancelled): a
    /// half-open probe slot is freed for the next call instead of being held forever.
    pub fn abandon(&self) {
        let mut s = self.lock();
        if let State::HalfOpen { probing: true } = *s {
            *s = State::HalfOpen { probing: false };
        }
    }

    /// True while calls are refused (for metrics and logs).
    pub fn is_open(&self) -> bool {
        matches!(*self.lock(), State::Open { until } if Instant::now() < until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_probes_once_after_the_cool_down() {
        let b = CircuitBreaker::new(3, Duration::from_secs(30));
        let t0 = Instant::now();
        for _ in 0..2 {
            assert!(b.allow_at(t0));
            b.record_at(false, t0);
        }
        b.record_at(true, t0);
        for _ in 0..3 {
            assert!(b.allow_at(t0));
            b.record_at(false, t0);
        }
        assert!(!b.allow_at(t0 + Duration::from_secs(10)), "open: refused");
        let later = t0 + Duration::from_secs(31);
        assert!(b.allow_at(later), "half-open: one probe");
        assert!(!b.allow_at(later), "only one probe at a time");
        b.record_at(false, later);
        assert!(!b.allow_at(later + Duration::from_secs(1)), "failed probe reopens");
        let much_later = later + Duration::from_secs(31);
        assert!(b.allow_at(much_later));
        b.record_at(true, much_later);
        assert!(b.allow_at(much_later) && b.allow_at(much_later), "closed again");
    }

    #[test]
    fn recording_says_whether_the_circuit_is_open_afterwards() {
        let b = CircuitBreaker::new(2, Duration::from_secs(30));
        let t0 = Instant::now();
        assert!(!b.record_at(false, t0));
        assert!(b.record_at(false, t0), "opened");
        let later = t0 + Duration::from_secs(31);
        assert!(b.allow_at(later), "probe after the cool-down");
        assert!(!b.record_at(true, later), "a successful probe closes it");
    }

    #[test]
    fn an_abandoned_probe_frees_the_probe_slot() {
        let b = CircuitBreaker::new(1, Duration::from_secs(30));
        let t0 = Instant::now();
        b.record_at(false, t0);
        let later = t0 + Duration::from_secs(31);
        assert!(b.allow_at(later), "probe");
        b.abandon();
        assert!(b.allow_at(later), "the next call may probe");
        b.abandon();
        b.record_at(true, later);
        b.abandon();
        assert!(b.allow_at(later), "abandon leaves a closed circuit closed");
    }
}
