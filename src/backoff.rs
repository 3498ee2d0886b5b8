//! The one backoff rule for retries outside the LLM client (store calls, stage retries):
//! exponential from a base, capped, with ±50 % jitter so runners that failed together do
//! not retry together. (The LLM client has its own: full jitter and `Retry-After`.)

use std::time::Duration;

/// How long to wait before retry number `attempt` (1 for the first retry): `base` doubled
/// per attempt up to `max`, then jittered to 50–150 % of that.
pub fn delay(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exponent = attempt.clamp(1, 16) - 1;
    let nominal = base.saturating_mul(1 << exponent).min(max);
    let millis = nominal.as_millis() as u64;
    Duration::from_millis(rand::random_range(millis / 2..=millis + millis / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_stay_capped_and_are_jittered() {
        let (base, max) = (Duration::from_millis(100), Duration::from_secs(2));
        for attempt in 1..40 {
            let nominal = (100u64 << (attempt.min(16) - 1)).min(2_000);
            let d = delay(attempt, base, max).as_millis() as u64;
            assert!(
                (nominal / 2..=nominal + nominal / 2).contains(&d),
                "attempt {attempt}: {d}"
            );
        }
        let samples: std::collections::HashSet<_> = (0..50).map(|_| delay(3, base, max)).collect();
        assert!(samples.len() > 1, "no jitter");
    }
}
