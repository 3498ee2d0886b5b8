//! Prometheus metrics, rendered as text by `GET /metrics`. A small process-wide registry:
//! counters and histograms keyed by label values, recorded where things happen (HTTP
//! middleware, pipeline, LogHub, SSE) and read at scrape time together with the live
//! gauges of the run supervisor.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use std::sync::atomic::{AtomicBool, AtomicUsize};

/// Counters read by `/health` without going through the actor's mailbox.
#[derive(Debug)]
pub struct RunnerStats {
    /// Runs holding a slot.
    pub active: AtomicUsize,
    /// Runs waiting (refreshed after every admission and claim round).
    pub queued: AtomicUsize,
    /// `MAX_CONCURRENCY`.
    pub max_concurrency: usize,
    /// True once shutdown began.
    pub draining: AtomicBool,
    /// False while the store does not answer its health ping.
    pub store_ok: AtomicBool,
}

/// Upper bounds (seconds) of the latency histograms.
const HTTP_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
const STAGE_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0];

#[derive(Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, buckets: &[f64], v: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; buckets.len()];
        }
        for (i, b) in buckets.iter().enumerate() {
            if v <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }
}

/// The registry.
#[derive(Default)]
pub struct Metrics {
    http_requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    http_latency: Mutex<BTreeMap<(String, String), Histogram>>,
    runs_finished: Mutex<BTreeMap<String, u64>>,
    stage_duration: Mutex<BTreeMap<(String, String), Histogram>>,
    stage_retries: Mutex<BTreeMap<String, u64>>,
    llm_tokens: Mutex<BTreeMap<(String, String, String), u64>>,
    llm_cost: Mutex<BTreeMap<(String, String), f64>>,
    llm_circuit_open: Mutex<BTreeMap<String, bool>>,
    llm_calls: Mutex<BTreeMap<(String, String, String), u64>>,
    stage_producers: Mutex<BTreeMap<(String, String), u64>>,
    firecrawl_requests: Mutex<BTreeMap<String, u64>>,
    sse_subscribers: AtomicI64,
    log_lines_dropped: AtomicU64,
    alerts_sent: Mutex<BTreeMap<String, u64>>,
}

/// The process-wide registry.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Escapes a label value for the text format.
fn esc(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn histogram(out: &mut String, name: &str, labels: &str, h: &Histogram, buckets: &[f64]) {
    let sep = if labels.is_empty() { "" } else { "," };
    for (i, b) in buckets.iter().enumerate() {
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}",
            h.counts.get(i).copied().unwrap_or(0)
        );
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
    let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
}

impl Metrics {
    /// One HTTP request: method, route pattern (not the raw path), status, duration.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        *lock(&self.http_requests)
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        lock(&self.http_latency)
            .entry((method.to_owned(), route.to_owned()))
            .or_default()
            .observe(HTTP_BUCKETS, elapsed.as_secs_f64());
    }

    /// A run reached a final status (`completed`, `failed`, `cancelled`, `requeued`).
    pub fn run_finished(&self, outcome: &str) {
        *lock(&self.runs_finished).entry(outcome.to_owned()).or_default() += 1;
    }

    /// A stage execution ended with `outcome` (`completed`, `failed`).
    pub fn stage_finished(&self, stage: &str, outcome: &str, elapsed: Duration) {
        lock(&self.stage_duration)
            .entry((stage.to_owned(), outcome.to_owned()))
            .or_default()
            .observe(STAGE_BUCKETS, elapsed.as_secs_f64());
    }

    /// A stage is retried after a transient failure.
    pub fn stage_retry(&self, stage: &str) {
        *lock(&self.stage_retries).entry(stage.to_owned()).or_default() += 1;
    }

    /// One LLM call (with its retries): its outcome (`ok`, `invalid_output`, `error`),
    /// tokens and cost (`None` when the price is unknown).
    pub fn llm_call(&self, provider: &str, model: &str, outcome: &str, input: u64, output: u64, cost: Option<f64>) {
        *lock(&self.llm_calls)
            .entry((provider.to_owned(), model.to_owned(), outcome.to_owned()))
            .or_default() += 1;
        let mut tokens = lock(&self.llm_tokens);
        *tokens
            .entry((provider.to_owned(), model.to_owned(), "input".into()))
            .or_default() += input;
        *tokens
            .entry((provider.to_owned(), model.to_owned(), "output".into()))
            .or_default() += output;
        if let Some(c) = cost {
            *lock(&self.llm_cost)
                .entry((provider.to_owned(), model.to_owned()))
                .or_default() += c;
        }
    }

    /// A stage output was checkpointed, produced by `llm`, `offline` or `offline_fallback`.
    pub fn stage_produced(&self, stage: &str, producer: &str) {
        *lock(&self.stage_producers)
            .entry((stage.to_owned(), producer.to_owned()))
            .or_default() += 1;
    }

    /// A FireCrawl request: `ok`, `error`, `cache_hit` or `capped` (not sent).
    pub fn firecrawl_request(&self, outcome: &str) {
        *lock(&self.firecrawl_requests).entry(outcome.to_owned()).or_default() += 1;
    }

    /// A provider's circuit breaker opened (`true`) or closed.
    pub fn llm_circuit(&self, provider: &str, open: bool) {
        lock(&self.llm_circuit_open).insert(provider.to_owned(), open);
    }

    /// An SSE client connected (+1) or left (-1).
    pub fn sse_subscribers_add(&self, delta: i64) {
        self.sse_subscribers.fetch_add(delta, Ordering::Relaxed);
    }

    /// Run log lines dropped because the store stayed unreachable.
    pub fn log_lines_dropped(&self, n: u64) {
        self.log_lines_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// An alert e-mail was sent for `check`.
    pub fn alert_sent(&self, check: &str) {
        *lock(&self.alerts_sent).entry(check.to_owned()).or_default() += 1;
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self, stats: &RunnerStats) -> String {
        let mut o = String::new();
        family(
            &mut o,
            "job_runner_http_requests_total",
            "counter",
            "HTTP requests by method, route and status.",
        );
        for ((m, r, s), v) in lock(&self.http_requests).iter() {
            let _ = writeln!(
                o,
                "job_runner_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{s}\"}} {v}",
                esc(m),
                esc(r)
            );
        }
        family(
            &mut o,
            "job_runner_http_request_duration_seconds",
            "histogram",
            "HTTP request latency by method and route.",
        );
        for ((m, r), h) in lock(&self.http_latency).iter() {
            let labels = format!("method=\"{}\",route=\"{}\"", esc(m), esc(r));
            histogram(
                &mut o,
                "job_runner_http_request_duration_seconds",
                &labels,
                h,
                HTTP_BUCKETS,
            );
        }
        family(
            &mut o,
            "job_runner_runs_finished_total",
            "counter",
            "Runs that ended, by outcome.",
        );
        for (k, v) in lock(&self.runs_finished).iter() {
            let _ = writeln!(o, "job_runner_runs_finished_total{{outcome=\"{}\"}} {v}", esc(k));
        }
        family(
            &mut o,
            "job_runner_stage_duration_seconds",
            "histogram",
            "Stage execution time by stage and outcome.",
        );
        for ((s, out), h) in lock(&self.stage_duration).iter() {
            let labels = format!("stage=\"{}\",outcome=\"{}\"", esc(s), esc(out));
            histogram(&mut o, "job_runner_stage_duration_seconds", &labels, h, STAGE_BUCKETS);
        }
        family(
            &mut o,
            "job_runner_stage_retries_total",
            "counter",
            "Stage retries after transient failures, by stage.",
        );
        for (k, v) in lock(&self.stage_retries).iter() {
            let _ = writeln!(o, "job_runner_stage_retries_total{{stage=\"{}\"}} {v}", esc(k));
        }
        family(
            &mut o,
            "job_runner_active_runs",
            "gauge",
            "Runs holding a slot in this runner.",
        );
        let _ = writeln!(o, "job_runner_active_runs {}", stats.active.load(Ordering::SeqCst));
        family(
            &mut o,
            "job_runner_max_concurrency",
            "gauge",
            "Slots of this runner (MAX_CONCURRENCY).",
        );
        let _ = writeln!(o, "job_runner_max_concurrency {}", stats.max_concurrency);
        family(&mut o, "job_runner_queue_depth", "gauge", "Runs waiting for a slot.");
        let _ = writeln!(o, "job_runner_queue_depth {}", stats.queued.load(Ordering::SeqCst));
        family(
            &mut o,
            "job_runner_store_up",
            "gauge",
            "1 while the store answers its health ping.",
        );
        let _ = writeln!(
            o,
            "job_runner_store_up {}",
            u8::from(stats.store_ok.load(Ordering::SeqCst))
        );
        family(
            &mut o,
            "job_runner_llm_tokens_total",
            "counter",
            "LLM tokens by provider, model and direction.",
        );
        for ((p, m, d), v) in lock(&self.llm_tokens).iter() {
            let _ = writeln!(
                o,
                "job_runner_llm_tokens_total{{provider=\"{}\",model=\"{}\",direction=\"{d}\"}} {v}",
                esc(p),
                esc(m)
            );
        }
        family(
            &mut o,
            "job_runner_llm_cost_usd_total",
            "counter",
            "LLM spend in USD by provider and model (known prices only).",
        );
        for ((p, m), v) in lock(&self.llm_cost).iter() {
            let _ = writeln!(
                o,
                "job_runner_llm_cost_usd_total{{provider=\"{}\",model=\"{}\"}} {v}",
                esc(p),
                esc(m)
            );
        }
        family(
            &mut o,
            "job_runner_llm_circuit_open",
            "gauge",
            "1 while a provider's circuit breaker is open.",
        );
        for (p, open) in lock(&self.llm_circuit_open).iter() {
            let _ = writeln!(
                o,
                "job_runner_llm_circuit_open{{provider=\"{}\"}} {}",
                esc(p),
                u8::from(*open)
            );
        }
        family(
            &mut o,
            "job_runner_llm_calls_total",
            "counter",
            "LLM calls (retries included in one call) by provider, model and outcome.",
        );
        for ((p, m, outcome), v) in lock(&self.llm_calls).iter() {
            let _ = writeln!(
                o,
                "job_runner_llm_calls_total{{provider=\"{}\",model=\"{}\",outcome=\"{}\"}} {v}",
                esc(p),
                esc(m),
                esc(outcome)
            );
        }
        family(
            &mut o,
            "job_runner_stage_outputs_total",
            "counter",
            "Checkpointed stage outputs by stage and producer (llm, offline, offline_fallback).",
        );
        for ((stage, producer), v) in lock(&self.stage_producers).iter() {
            let _ = writeln!(
                o,
                "job_runner_stage_outputs_total{{stage=\"{}\",producer=\"{}\"}} {v}",
                esc(stage),
                esc(producer)
            );
        }
        family(
            &mut o,
            "job_runner_firecrawl_requests_total",
            "counter",
            "FireCrawl requests by outcome (ok, error, cache_hit, capped).",
        );
        for (outcome, v) in lock(&self.firecrawl_requests).iter() {
            let _ = writeln!(
                o,
                "job_runner_firecrawl_requests_total{{outcome=\"{}\"}} {v}",
                esc(outcome)
            );
        }
        family(&mut o, "job_runner_sse_subscribers", "gauge", "Open log streams.");
        let _ = writeln!(
            o,
            "job_runner_sse_subscribers {}",
            self.sse_subscribers.load(Ordering::Relaxed)
        );
        family(
            &mut o,
            "job_runner_log_lines_dropped_total",
            "counter",
            "Run log lines dropped while the store was unreachable.",
        );
        let _ = writeln!(
            o,
            "job_runner_log_lines_dropped_total {}",
            self.log_lines_dropped.load(Ordering::Relaxed)
        );
        family(
            &mut o,
            "job_runner_alerts_sent_total",
            "counter",
            "Alert e-mails sent, by check.",
        );
        for (k, v) in lock(&self.alerts_sent).iter() {
            let _ = writeln!(o, "job_runner_alerts_sent_total{{check=\"{}\"}} {v}", esc(k));
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.http_request("GET", "/jobs/{run_id}/status", 200, Duration::from_millis(7));
        m.http_request("GET", "/jobs/{run_id}/status", 200, Duration::from_millis(70));
        m.run_finished("com\"pleted");
        let stats = RunnerStats {
            active: Default::default(),
            queued: Default::default(),
            max_concurrency: 3,
            draining: Default::default(),
            store_ok: std::sync::atomic::AtomicBool::new(true),
        };
        let text = m.render(&stats);
        assert!(text.contains(r#"job_runner_http_request_duration_seconds_bucket{method="GET",route="/jobs/{run_id}/status",le="0.01"} 1"#), "{text}");
        assert!(text.contains(r#"le="0.1"} 2"#));
        assert!(text.contains(r#"le="+Inf"} 2"#));
        assert!(text.contains(r#"outcome="com\"pleted""#));
        assert!(text.contains("job_runner_max_concurrency 3"));
    }
}
