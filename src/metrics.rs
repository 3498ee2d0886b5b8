//! Prometheus metrics behind `GET /metrics`, on `prometheus-client`: one [`Metrics`] per
//! runtime (no global registry), handed to whatever records (HTTP middleware, pipeline,
//! log hub, SSE streams, LLM layer, FireCrawl, health actor), read at scrape time together
//! with the live gauges of the run supervisor. Tests read values from the families.
//!
//! The crate writes the OpenMetrics text format, which names a counter family without its
//! `_total` suffix in `# HELP`/`# TYPE` and ends with `# EOF`. `/metrics` keeps the
//! Prometheus text format 0.0.4 it always served (`promtool check metrics` reads that
//! format; dashboards and alerts use the same names): [`to_prometheus_text`] renames the
//! counter descriptors and drops the end marker.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Counters read by `/health` without going through the actor's mailbox.
#[derive(Debug)]
pub struct RunnerStats {
    /// Runs holding a slot.
    pub active: AtomicUsize,
    /// Runs waiting (refreshed after every admission and claim round).
    pub queued: AtomicUsize,
    /// `MAX_CONCURRENCY`.
    pub max_concurrency: usize,
    /// `MAX_QUEUE`.
    pub max_queue: usize,
    /// True once shutdown began.
    pub draining: AtomicBool,
    /// False while the store does not answer its health ping.
    pub store_ok: AtomicBool,
}

/// Upper bounds (seconds) of the latency histograms.
const HTTP_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
const STAGE_BUCKETS: [f64; 9] = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0];

fn http_histogram() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

fn stage_histogram() -> Histogram {
    Histogram::new(STAGE_BUCKETS)
}

/// `method`, `route`, `status`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: String,
}

/// `method`, `route`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

/// `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

/// `stage`, `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageOutcomeLabels {
    pub stage: String,
    pub outcome: String,
}

/// `stage`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    pub stage: String,
}

/// `provider`, `model`, `direction`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    pub provider: String,
    pub model: String,
    pub direction: String,
}

/// `provider`, `model`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub provider: String,
    pub model: String,
}

/// `provider`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabel {
    pub provider: String,
}

/// `provider`, `model`, `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub provider: String,
    pub model: String,
    pub outcome: String,
}

/// `stage`, `producer`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProducerLabels {
    pub stage: String,
    pub producer: String,
}

/// `check`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabel {
    pub check: String,
}

/// A family as `# HELP`/`# TYPE` describe it: Prometheus name, help, type.
type Descriptor = (String, String, &'static str);

/// Registers `metric` and remembers its description.
fn add<M: prometheus_client::registry::Metric + Clone>(
    r: &mut Registry,
    d: &mut Vec<Descriptor>,
    name: &str,
    help: &str,
    metric: &M,
) {
    r.register(name, help, metric.clone());
    let kind: &'static str = match metric.metric_type().as_str() {
        "counter" => "counter",
        "gauge" => "gauge",
        "histogram" => "histogram",
        _ => "untyped",
    };
    let shown = if kind == "counter" {
        format!("{name}_total")
    } else {
        name.to_owned()
    };
    d.push((shown, format!("{help}."), kind));
}

/// The runtime's metrics: the registry and a handle on every family.
pub struct Metrics {
    registry: Registry,
    /// Every family's name (as Prometheus shows it), help and type, so an empty family is
    /// described too.
    descriptors: Vec<Descriptor>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub runs_finished: Family<OutcomeLabel, Counter>,
    pub stage_duration: Family<StageOutcomeLabels, Histogram, fn() -> Histogram>,
    pub stage_retries: Family<StageLabel, Counter>,
    pub active_runs: Gauge,
    pub max_concurrency: Gauge,
    pub queue_depth: Gauge,
    pub max_queue: Gauge,
    pub store_up: Gauge,
    /// Runs running past their timeout, as the health actor last counted them.
    pub stuck_runs: Gauge,
    /// Runners whose heartbeat is current, as this runner last counted them.
    pub runners_live: Gauge,
    pub llm_tokens: Family<TokenLabels, Counter>,
    pub llm_cost: Family<ModelLabels, Counter<f64, AtomicU64>>,
    pub llm_circuit_open: Family<ProviderLabel, Gauge>,
    pub llm_calls: Family<CallLabels, Counter>,
    pub stage_outputs: Family<ProducerLabels, Counter>,
    pub firecrawl_requests: Family<OutcomeLabel, Counter>,
    pub sse_subscribers: Gauge,
    pub log_lines_dropped: Counter,
    pub alerts_sent: Family<CheckLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every family, registered under its name (counters without `_total`: the encoder
    /// adds it to their samples) and help text (the crate ends it with a period).
    pub fn new() -> Self {
        let mut m = Self {
            registry: Registry::default(),
            descriptors: Vec::new(),
            http_requests: Family::default(),
            http_latency: Family::new_with_constructor(http_histogram as fn() -> Histogram),
            runs_finished: Family::default(),
            stage_duration: Family::new_with_constructor(stage_histogram as fn() -> Histogram),
            stage_retries: Family::default(),
            active_runs: Gauge::default(),
            max_concurrency: Gauge::default(),
            queue_depth: Gauge::default(),
            max_queue: Gauge::default(),
            store_up: Gauge::default(),
            stuck_runs: Gauge::default(),
            runners_live: Gauge::default(),
            llm_tokens: Family::default(),
            llm_cost: Family::default(),
            llm_circuit_open: Family::default(),
            llm_calls: Family::default(),
            stage_outputs: Family::default(),
            firecrawl_requests: Family::default(),
            sse_subscribers: Gauge::default(),
            log_lines_dropped: Counter::default(),
            alerts_sent: Family::default(),
        };
        let (r, d) = (&mut m.registry, &mut m.descriptors);
        add(
            r,
            d,
            "job_runner_http_requests",
            "HTTP requests by method, route and status",
            &m.http_requests,
        );
        add(
            r,
            d,
            "job_runner_http_request_duration_seconds",
            "HTTP request latency by method and route",
            &m.http_latency,
        );
        add(
            r,
            d,
            "job_runner_runs_finished",
            "Runs that ended, by outcome",
            &m.runs_finished,
        );
        add(
            r,
            d,
            "job_runner_stage_duration_seconds",
            "Stage execution time by stage and outcome",
            &m.stage_duration,
        );
        add(
            r,
            d,
            "job_runner_stage_retries",
            "Stage retries after transient failures, by stage",
            &m.stage_retries,
        );
        add(
            r,
            d,
            "job_runner_active_runs",
            "Runs holding a slot in this runner",
            &m.active_runs,
        );
        add(
            r,
            d,
            "job_runner_max_concurrency",
            "Slots of this runner (MAX_CONCURRENCY)",
            &m.max_concurrency,
        );
        add(
            r,
            d,
            "job_runner_queue_depth",
            "Runs waiting for a slot",
            &m.queue_depth,
        );
        add(
            r,
            d,
            "job_runner_max_queue",
            "Runs that may wait (MAX_QUEUE)",
            &m.max_queue,
        );
        add(
            r,
            d,
            "job_runner_store_up",
            "1 while the store answers its health ping",
            &m.store_up,
        );
        add(
            r,
            d,
            "job_runner_stuck_runs",
            "Runs running past their timeout at the last health round",
            &m.stuck_runs,
        );
        add(
            r,
            d,
            "job_runner_runners_live",
            "Runners sharing the store whose heartbeat is current",
            &m.runners_live,
        );
        add(
            r,
            d,
            "job_runner_llm_tokens",
            "LLM tokens by provider, model and direction",
            &m.llm_tokens,
        );
        add(
            r,
            d,
            "job_runner_llm_cost_usd",
            "LLM spend in USD by provider and model (known prices only)",
            &m.llm_cost,
        );
        add(
            r,
            d,
            "job_runner_llm_circuit_open",
            "1 while a provider's circuit breaker is open",
            &m.llm_circuit_open,
        );
        add(
            r,
            d,
            "job_runner_llm_calls",
            "LLM calls (retries included in one call) by provider, model and outcome",
            &m.llm_calls,
        );
        add(
            r,
            d,
            "job_runner_stage_outputs",
            "Checkpointed stage outputs by stage and producer (llm, offline, offline_fallback)",
            &m.stage_outputs,
        );
        add(
            r,
            d,
            "job_runner_firecrawl_requests",
            "FireCrawl requests by outcome (ok, error, cache_hit, capped)",
            &m.firecrawl_requests,
        );
        add(
            r,
            d,
            "job_runner_sse_subscribers",
            "Open log streams",
            &m.sse_subscribers,
        );
        add(
            r,
            d,
            "job_runner_log_lines_dropped",
            "Run log lines dropped while the store was unreachable",
            &m.log_lines_dropped,
        );
        add(
            r,
            d,
            "job_runner_alerts_sent",
            "Alert e-mails sent, by check",
            &m.alerts_sent,
        );
        m
    }

    /// One HTTP request: method, route pattern (not the raw path), status, duration.
    pub fn http_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .get_or_create(&HttpLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status: status.to_string(),
            })
            .inc();
        self.http_latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// A run ended with `outcome` (its final status).
    pub fn run_finished(&self, outcome: &str) {
        self.runs_finished
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// A stage execution ended (`completed` or `failed`) after `elapsed`.
    pub fn stage_finished(&self, stage: &str, outcome: &str, elapsed: Duration) {
        self.stage_duration
            .get_or_create(&StageOutcomeLabels {
                stage: stage.to_owned(),
                outcome: outcome.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// A stage is retried after a transient failure.
    pub fn stage_retry(&self, stage: &str) {
        self.stage_retries
            .get_or_create(&StageLabel {
                stage: stage.to_owned(),
            })
            .inc();
    }

    /// One LLM call: its outcome, tokens both ways and cost when the price is known.
    pub fn llm_call(&self, provider: &str, model: &str, outcome: &str, input: u64, output: u64, cost: Option<f64>) {
        self.llm_calls
            .get_or_create(&CallLabels {
                provider: provider.to_owned(),
                model: model.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
        for (direction, n) in [("input", input), ("output", output)] {
            self.llm_tokens
                .get_or_create(&TokenLabels {
                    provider: provider.to_owned(),
                    model: model.to_owned(),
                    direction: direction.to_owned(),
                })
                .inc_by(n);
        }
        if let Some(c) = cost {
            self.llm_cost
                .get_or_create(&ModelLabels {
                    provider: provider.to_owned(),
                    model: model.to_owned(),
                })
                .inc_by(c);
        }
    }

    /// A stage output was checkpointed, produced by `producer`.
    pub fn stage_produced(&self, stage: &str, producer: &str) {
        self.stage_outputs
            .get_or_create(&ProducerLabels {
                stage: stage.to_owned(),
                producer: producer.to_owned(),
            })
            .inc();
    }

    /// A FireCrawl request ended with `outcome`.
    pub fn firecrawl_request(&self, outcome: &str) {
        self.firecrawl_requests
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// A provider's circuit is open (or closed again).
    pub fn llm_circuit(&self, provider: &str, open: bool) {
        self.llm_circuit_open
            .get_or_create(&ProviderLabel {
                provider: provider.to_owned(),
            })
            .set(i64::from(open));
    }

    /// A log stream opened (`1`) or closed (`-1`).
    pub fn sse_subscribers_add(&self, delta: i64) {
        self.sse_subscribers.inc_by(delta);
    }

    /// Run log lines lost while the store was unreachable.
    pub fn log_lines_dropped(&self, n: u64) {
        self.log_lines_dropped.inc_by(n);
    }

    /// An alert e-mail was sent for `check`.
    pub fn alert_sent(&self, check: &str) {
        self.alerts_sent
            .get_or_create(&CheckLabel {
                check: check.to_owned(),
            })
            .inc();
    }

    /// The Prometheus text exposition (format 0.0.4), with the supervisor's live gauges.
    pub fn render(&self, stats: &RunnerStats) -> String {
        self.active_runs.set(stats.active.load(Ordering::SeqCst) as i64);
        self.max_concurrency.set(stats.max_concurrency as i64);
        self.queue_depth.set(stats.queued.load(Ordering::SeqCst) as i64);
        self.max_queue.set(stats.max_queue as i64);
        self.store_up.set(i64::from(stats.store_ok.load(Ordering::SeqCst)));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode_registry(&mut text, &self.registry);
        let mut out = to_prometheus_text(&text);
        // The crate leaves out families without samples; Prometheus text always describes
        // every family, so a dashboard or alert rule finds it before its first sample.
        for (name, help, kind) in &self.descriptors {
            if !out.contains(&format!("# TYPE {name} ")) {
                out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            }
        }
        out
    }
}

/// OpenMetrics text as Prometheus text 0.0.4: a counter family's `# HELP`/`# TYPE` lines
/// name it with the `_total` its samples carry, a histogram bucket's `le` label comes last
/// (as Prometheus clients write it), and the `# EOF` marker is dropped.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 64);
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        let line = renamed.unwrap_or_else(|| le_last(line));
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// A bucket sample with its `le` label moved after the others:
/// `x_bucket{le="0.1",route="/a/{id}"} 2` → `x_bucket{route="/a/{id}",le="0.1"} 2`. Label
/// values may hold braces (route patterns), so the label set ends at the last `} `.
fn le_last(line: &str) -> String {
    let (Some(open), Some(close)) = (line.find("_bucket{le=\""), line.rfind("} ")) else {
        return line.to_owned();
    };
    let labels = &line[open + "_bucket{".len()..close];
    match labels.split_once(',') {
        Some((le, rest)) if le.starts_with("le=") => {
            format!("{}_bucket{{{rest},{le}{}", &line[..open], &line[close..])
        }
        _ => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> RunnerStats {
        RunnerStats {
            active: AtomicUsize::new(0),
            queued: AtomicUsize::new(2),
            max_concurrency: 3,
            max_queue: 10,
            draining: AtomicBool::new(false),
            store_ok: AtomicBool::new(true),
        }
    }

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let m = Metrics::new();
        m.http_request("GET", "/jobs/{run_id}/status", 200, Duration::from_millis(7));
        m.http_request("GET", "/jobs/{run_id}/status", 200, Duration::from_millis(70));
        m.run_finished("com\"pleted");
        let text = m.render(&stats());
        assert!(text.contains(r#"job_runner_http_request_duration_seconds_bucket{method="GET",route="/jobs/{run_id}/status",le="0.01"} 1"#), "{text}");
        assert!(text.contains(r#"le="0.1"} 2"#));
        assert!(text.contains(r#"le="+Inf"} 2"#));
        assert!(text.contains(r#"outcome="com\"pleted""#), "{text}");
        assert!(text.contains("job_runner_max_concurrency 3"));
        assert!(text.contains("job_runner_queue_depth 2"));
    }

    #[test]
    fn values_can_be_read_and_counters_keep_their_prometheus_names() {
        let m = Metrics::new();
        m.llm_call("openai", "gpt-4o-mini", "ok", 1000, 200, Some(0.00027));
        m.llm_call("openai", "gpt-4o-mini", "ok", 10, 2, None);
        let calls = m
            .llm_calls
            .get_or_create(&CallLabels {
                provider: "openai".into(),
                model: "gpt-4o-mini".into(),
                outcome: "ok".into(),
            })
            .get();
        assert_eq!(calls, 2);
        let cost = m
            .llm_cost
            .get_or_create(&ModelLabels {
                provider: "openai".into(),
                model: "gpt-4o-mini".into(),
            })
            .get();
        assert!((cost - 0.00027).abs() < 1e-12);
        let text = m.render(&stats());
        assert!(text.contains("# TYPE job_runner_llm_calls_total counter"), "{text}");
        assert!(text.contains("# HELP job_runner_alerts_sent_total Alert e-mails sent, by check."));
        assert!(!text.contains("# EOF"));
        assert!(text.contains("# TYPE job_runner_http_request_duration_seconds histogram"));
    }

    #[test]
    fn bucket_labels_end_with_le() {
        assert_eq!(
            le_last(r#"h_bucket{le="0.1",method="GET",route="/jobs/{run_id}"} 2"#),
            r#"h_bucket{method="GET",route="/jobs/{run_id}",le="0.1"} 2"#
        );
        assert_eq!(le_last(r#"h_bucket{le="+Inf"} 2"#), r#"h_bucket{le="+Inf"} 2"#);
        assert_eq!(le_last("g 1"), "g 1");
    }

    #[test]
    fn the_conversion_renames_counter_descriptors_only() {
        let om = "# HELP a_x Counts.\n# TYPE a_x counter\na_x_total 1\n# HELP g A gauge.\n# TYPE g gauge\ng 2\n# EOF\n";
        assert_eq!(
            to_prometheus_text(om),
            "# HELP a_x_total Counts.\n# TYPE a_x_total counter\na_x_total 1\n# HELP g A gauge.\n# TYPE g gauge\ng 2\n"
        );
    }
}
