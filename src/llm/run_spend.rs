//! What one run may still spend. The budget (`MAX_COST_PER_RUN`) is checked before every
//! call with an estimate, and the estimate is *reserved* until the call's real cost is
//! known, so the two stages that run at the same time (pain points and research) cannot
//! both pass the check and overspend together. FireCrawl calls are counted here too.

use std::sync::Mutex;

#[derive(Debug, Default)]
struct State {
    spent: f64,
    reserved: f64,
    exhausted: bool,
    /// Why no call may be made any more, when it was not this run's own budget.
    closed_because: Option<String>,
    firecrawl_calls: u32,
}

/// A run's spend so far.
#[derive(Debug)]
pub struct RunSpend {
    limit: f64,
    state: Mutex<State>,
}

/// A reserved estimate, to be settled with the real cost.
#[derive(Debug)]
#[must_use]
pub struct Reservation(f64);

impl RunSpend {
    /// A run allowed `limit` USD, which already spent `spent` (calls before a restart) and
    /// made `firecrawl_calls` FireCrawl requests.
    pub fn new(limit: f64, spent: f64, firecrawl_calls: u32) -> Self {
        Self {
            limit,
            state: Mutex::new(State {
                spent,
                firecrawl_calls,
                ..State::default()
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reserves `estimate` USD (`None` = unknown price: nothing to reserve) or says why
    /// not. Once refused, the run stays over budget.
    pub fn reserve(&self, estimate: Option<f64>) -> Result<Reservation, String> {
        let mut s = self.lock();
        let need = estimate.unwrap_or(0.0);
        if let Some(reason) = &s.closed_because {
            return Err(reason.clone());
        }
        if s.exhausted || s.spent + s.reserved + need > self.limit {
            s.exhausted = true;
            return Err(format!(
                "LLM budget of this run exhausted: spent ${:.4} of MAX_COST_PER_RUN ${:.4}, the next call would cost about ${need:.4}",
                s.spent, self.limit
            ));
        }
        s.reserved += need;
        Ok(Reservation(need))
    }

    /// Replaces a reservation with the real cost (`None` when the price is unknown).
    pub fn settle(&self, reservation: Reservation, cost: Option<f64>) {
        let mut s = self.lock();
        s.reserved = (s.reserved - reservation.0).max(0.0);
        s.spent += cost.unwrap_or(0.0);
    }

    /// True once a call was refused for the budget.
    pub fn is_exhausted(&self) -> bool {
        self.lock().exhausted
    }

    /// Refuses every call of this run from now on, for `reason` (a daily or monthly
    /// budget that is spent): the stages run offline like over the run's own budget.
    pub fn close(&self, reason: String) {
        let mut s = self.lock();
        s.exhausted = true;
        s.closed_because = Some(reason);
    }

    /// Why calls are refused, when the run's budget is not the reason.
    pub fn closed_because(&self) -> Option<String> {
        self.lock().closed_because.clone()
    }

    /// USD spent so far (known prices only).
    pub fn spent(&self) -> f64 {
        self.lock().spent
    }

    /// Takes one FireCrawl call out of the run's allowance of `cap`; false when none is left.
    pub fn take_firecrawl_call(&self, cap: u32) -> bool {
        let mut s = self.lock();
        if s.firecrawl_calls >= cap {
            return false;
        }
        s.firecrawl_calls += 1;
        true
    }

    /// FireCrawl requests made so far.
    pub fn firecrawl_calls(&self) -> u32 {
        self.lock().firecrawl_calls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_keep_concurrent_calls_inside_the_limit() {
        let s = RunSpend::new(0.010, 0.0, 0);
        let a = s.reserve(Some(0.004)).unwrap();
        let b = s.reserve(Some(0.004)).unwrap();
        assert!(s.reserve(Some(0.004)).is_err(), "0.012 reserved would pass 0.010");
        assert!(s.is_exhausted());
        s.settle(a, Some(0.003));
        s.settle(b, None);
        assert!((s.spent() - 0.003).abs() < 1e-12, "unknown cost adds nothing");
        assert!(s.reserve(Some(0.0)).is_err(), "stays exhausted for the rest of the run");
    }

    #[test]
    fn unknown_prices_reserve_nothing_and_firecrawl_calls_are_capped() {
        let s = RunSpend::new(0.0, 0.0, 1);
        let r = s.reserve(None).unwrap();
        s.settle(r, None);
        assert!(s.take_firecrawl_call(2));
        assert!(!s.take_firecrawl_call(2));
        assert_eq!(s.firecrawl_calls(), 2);
    }
}
