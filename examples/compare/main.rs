//! Benchmarks that compare (see docs/benchmarks.md; run with `scripts/bench.sh`): each
//! figure with its goal, as ratios measured in one run where a comparison is meant.
//!
//! 1. `ceiling`: `/health` and `/jobs/{id}/status` against a minimal actix-web server.
//! 2. `fanout`: SSE emit → client latency at 1, 100, 500 and 1,000 subscribers.
//! 3. `llm_bound`: runs against a fake model with a fixed latency per call.
//! 4. `store_scale`: claims and log appends at 10k and 100k stored runs.
//! 5. `soak`: 2,000 runs with SSE clients coming and going.
//! 6. `cancel`: a cancel sent to one runner stops a run executing on another.
//!
//! `compare [part ...]` runs the named parts (all by default) and prints the table.

mod cancel;
mod ceiling;
mod common;
mod fanout;
mod llm_bound;
mod load;
#[path = "../../tests/common/model_answers.rs"]
mod model_answers;
mod soak;
mod store_scale;

const PARTS: [&str; 6] = ["ceiling", "fanout", "llm", "store", "soak", "cancel"];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--minimal-server") {
        let port = args[1].parse().expect("a port");
        load::minimal_server(port).expect("the minimal server runs");
        return;
    }
    let wanted: Vec<&str> = if args.is_empty() {
        PARTS.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    for w in &wanted {
        assert!(
            PARTS.contains(w),
            "unknown part {w:?}; the parts are {}",
            PARTS.join(", ")
        );
    }
    common::raise_fd_limit();
    let started = std::time::Instant::now();
    let report = actix_web::rt::System::new().block_on(async move {
        let mut report = common::Report::default();
        if wanted.contains(&"ceiling") {
            ceiling::run(&mut report).await;
        }
        if wanted.contains(&"fanout") {
            fanout::run(&mut report).await;
        }
        if wanted.contains(&"llm") {
            llm_bound::run(&mut report).await;
        }
        if wanted.contains(&"store") {
            store_scale::run(&mut report).await;
        }
        if wanted.contains(&"soak") {
            soak::run(&mut report).await;
        }
        if wanted.contains(&"cancel") {
            cancel::run(&mut report).await;
        }
        report
    });
    println!(
        "\n## Comparison ({}; {:.0} s)\n\n{}",
        chrono::Utc::now().format("%Y-%m-%d"),
        started.elapsed().as_secs_f64(),
        report.markdown()
    );
}
