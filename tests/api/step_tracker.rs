//! The deployed dashboard's step tracker (`job-detail.js` `parseLogAndUpdateSteps`, as
//! COMPAT-DASHBOARD.md §2 states its patterns) replayed over a real run's SSE stream: a
//! successful run moves it through all seven steps in order and marks none failed.

use regex::Regex;

use crate::helpers::{spawn_app, JOB};
use crate::sse::parse_sse_whatwg;

const STEPS: [&str; 7] = [
    "intake",
    "pain_points",
    "company_research",
    "role_research",
    "fit_scoring",
    "people_mapping",
    "cv_outreach_generation",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Pending,
    Started,
    Done,
    Failed,
}

/// The tracker as the dashboard's JavaScript runs it.
struct Tracker {
    steps: Vec<Regex>,
    error: Regex,
    done: Regex,
    started: Regex,
    marker: Regex,
    run_done: Regex,
    run_failed: Regex,
    states: [State; 7],
    /// Highest step (1-based) that reached done; earlier steps' later lines are ignored.
    highest_done: usize,
    /// The order in which steps reached done.
    done_order: Vec<usize>,
    run_state: Option<&'static str>,
}

fn ci(p: &str) -> Regex {
    Regex::new(&format!("(?i){p}")).unwrap()
}

impl Tracker {
    fn new() -> Self {
        Self {
            steps: [
                r"layer1[^0-9]|layer_1|LAYER 1:|intake_processor|jd_extractor",
                r"layer2[^0-9]|layer_2|LAYER 2:|pain_point_miner",
                r"LAYER 3:|company_research(er)?[.:]",
                r"LAYER 4:|role_research(er)?[.:]",
                r"LAYER 5:|fit_scor(ing|er)?[.:]|fit_analysis",
                r"people_mapper[.:]|contact.*discovery|linkedin.*search",
                r"LAYER 6:|LAYER 7:|cv_gen(erator)?[.:]|outreach_gen[.:]|markdown_cv",
            ]
            .iter()
            .map(|p| ci(p))
            .collect(),
            error: ci(r"failed|error|exception|❌"),
            done: ci(r"complete|finished|done\b|✓|✔|success|Extracted \d+|Generated|Found \d+|Persisted|published"),
            started: ci(
                r"LAYER \d:|Starting|Begin|Searching|Processing|Analyzing|Generating|Mining|Researching|Running|Extracting",
            ),
            marker: Regex::new(r"[✓✔]\s*(Layer\s*)?(\d+)").unwrap(),
            run_done: ci(r"pipeline.*completed|all layers.*complete|Pipeline complete|Persisted to MongoDB"),
            run_failed: ci(r"pipeline.*failed|fatal error|critical error"),
            states: [State::Pending; 7],
            highest_done: 0,
            done_order: Vec::new(),
            run_state: None,
        }
    }

    fn mark_done(&mut self, step: usize) {
        if self.states[step - 1] != State::Done {
            self.states[step - 1] = State::Done;
            self.done_order.push(step);
        }
        self.highest_done = self.highest_done.max(step);
    }

    fn feed(&mut self, line: &str) {
        if self.run_failed.is_match(line) {
            self.run_state = Some("failed");
            return;
        }
        if self.run_done.is_match(line) {
            self.run_state = Some("completed");
            return;
        }
        if let Some(c) = self.marker.captures(line) {
            let n: usize = c[2].parse().unwrap();
            if (1..=7).contains(&n) {
                self.mark_done(n);
            }
            return;
        }
        let Some(step) = self.steps.iter().position(|p| p.is_match(line)).map(|i| i + 1) else {
            return;
        };
        if step < self.highest_done {
            return;
        }
        if self.error.is_match(line) {
            self.states[step - 1] = State::Failed;
        } else if self.done.is_match(line) {
            self.mark_done(step);
        } else if self.started.is_match(line) && self.states[step - 1] == State::Pending {
            self.states[step - 1] = State::Started;
        }
    }
}

#[actix_web::test]
async fn a_successful_run_moves_the_dashboards_step_tracker_through_every_step_in_order() {
    let app = spawn_app().await;
    let run = app.start_run(JOB).await;
    let res = app.get(&format!("/jobs/{run}/logs")).await;
    let events = parse_sse_whatwg(&res.text().await.unwrap());
    let mut tracker = Tracker::new();
    let mut end = None;
    for e in &events {
        match e.event.as_str() {
            "end" => end = Some(e.data.clone()),
            _ => {
                // Every step is done before the run's last line says so for all of them.
                if tracker.run_state.is_none() {
                    tracker.feed(&e.data);
                }
            }
        }
    }
    let log: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(end.as_deref(), Some("completed"), "{log:#?}");
    assert_eq!(tracker.run_state, Some("completed"), "{log:#?}");
    assert_eq!(
        tracker.done_order,
        (1..=7).collect::<Vec<_>>(),
        "steps out of order: {log:#?}"
    );
    for (i, state) in tracker.states.iter().enumerate() {
        assert_eq!(*state, State::Done, "step {} is {state:?}: {log:#?}", STEPS[i]);
    }
}

#[actix_web::test]
async fn a_failed_run_says_so_in_the_trackers_words() {
    let app = crate::helpers::spawn_app_with(
        |s| {
            s.queue.stage_faults = vec![job_runner::config::FaultRule {
                stage: job_runner::domain::StageName::FitScore,
                job: None,
                fault: job_runner::config::StageFault::Panic,
            }]
        },
        &[],
    )
    .await;
    let run = app.start_run(JOB).await;
    let res = app.get(&format!("/jobs/{run}/logs")).await;
    let events = parse_sse_whatwg(&res.text().await.unwrap());
    let mut tracker = Tracker::new();
    for e in events.iter().filter(|e| e.event != "end") {
        if tracker.run_state.is_none() {
            tracker.feed(&e.data);
        }
    }
    assert_eq!(tracker.run_state, Some("failed"));
    assert!(tracker.highest_done < 5, "the fit score never completed");
}
