//! The DAG runner without an actor system: the real offline stages through an
//! [`InlineExecutor`], a real SQLite store in a temporary directory, the run log in a
//! [`MemorySink`]. Wrapper stages record the order of events, fail, hang or panic.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::{watch, Notify};

use super::*;
use crate::domain::{Run, StageStatus};
use crate::pipeline::execution::InlineExecutor;
use crate::pipeline::stage_contract::Stage;
use crate::pipeline::test_fixtures::{example_job, example_master, memory_log, offline_stages};
use crate::runlog::MemorySink;
use crate::store::sqlite::SqliteStore;

/// What a recording stage saw: `"<stage> start"` / `"<stage> end"`.
type Events = Arc<Mutex<Vec<String>>>;

/// How a wrapped stage behaves.
#[derive(Clone)]
enum Behaviour {
    /// Runs the real stage.
    Real,
    /// Fails with this error.
    Fail(StageError),
    /// Waits until the run is cancelled (tells `started` first).
    Hang(Arc<Notify>),
}

struct Recording {
    inner: Arc<dyn Stage>,
    events: Events,
    behaviour: Behaviour,
    /// Runs only after this notify fires (to hold a branch open), if set.
    gate: Option<Arc<Notify>>,
    /// Notified when the stage starts, if set.
    announce: Option<Arc<Notify>>,
}

#[async_trait]
impl Stage for Recording {
    fn name(&self) -> StageName {
        self.inner.name()
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageResult, StageError> {
        let name = self.name();
        self.events.lock().unwrap().push(format!("{name} start"));
        if let Some(announce) = &self.announce {
            announce.notify_one();
        }
        if let Some(gate) = &self.gate {
            gate.notified().await;
        }
        let result = match &self.behaviour {
            Behaviour::Real => self.inner.run(ctx).await,
            Behaviour::Fail(e) => Err(e.clone()),
            Behaviour::Hang(started) => {
                started.notify_one();
                std::future::pending().await
            }
        };
        self.events.lock().unwrap().push(format!("{name} end"));
        result
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    store: DynStore,
    run_id: RunId,
    sink: Arc<MemorySink>,
    events: Events,
    settings: Arc<Settings>,
    metrics: Arc<crate::metrics::Metrics>,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_root(dir.path());
    settings.queue.stage_max_retries = 2;
    let store: DynStore = Arc::new(SqliteStore::open(&settings.paths.data_dir).await.unwrap());
    let job = example_job();
    store.upsert_job(&job).await.unwrap();
    let run = Run::new_queued(job.id.clone(), None, None);
    store.insert_runs(std::slice::from_ref(&run)).await.unwrap();
    Harness {
        _dir: dir,
        store,
        run_id: run.run_id,
        sink: Arc::new(MemorySink::default()),
        events: Events::default(),
        settings: Arc::new(settings),
        metrics: Arc::default(),
    }
}

impl Harness {
    /// The offline stages, each wrapped; `adjust` picks a behaviour or gate per stage.
    fn executor(&self, adjust: impl Fn(StageName) -> (Behaviour, Option<Arc<Notify>>)) -> Arc<InlineExecutor> {
        self.executor_announcing(adjust, |_| None)
    }

    /// As [`Harness::executor`], with a notify per stage fired when it starts.
    fn executor_announcing(
        &self,
        adjust: impl Fn(StageName) -> (Behaviour, Option<Arc<Notify>>),
        announce: impl Fn(StageName) -> Option<Arc<Notify>>,
    ) -> Arc<InlineExecutor> {
        let stages = offline_stages()
            .into_iter()
            .map(|inner| {
                let (behaviour, gate) = adjust(inner.name());
                let announce = announce(inner.name());
                Arc::new(Recording {
                    inner,
                    events: Arc::clone(&self.events),
                    behaviour,
                    gate,
                    announce,
                }) as Arc<dyn Stage>
            })
            .collect();
        Arc::new(InlineExecutor::new(stages))
    }

    fn shared(&self, stages: Arc<InlineExecutor>) -> Arc<DagShared> {
        Arc::new(DagShared {
            run_id: self.run_id.clone(),
            store: self.store.clone(),
            stages,
            settings: Arc::clone(&self.settings),
            job: Arc::new(example_job()),
            master: Arc::new(example_master()),
            log: memory_log(&self.run_id, &self.sink),
            cancel: CancellationToken::new(),
            spend: Arc::new(crate::llm::run_spend::RunSpend::new(0.5, 0.0, 0)),
            deadline: tokio::time::Instant::now() + Duration::from_secs(120),
            metrics: Arc::clone(&self.metrics),
            options: Default::default(),
            tier: Default::default(),
        })
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    fn position(&self, event: &str) -> usize {
        self.events()
            .iter()
            .position(|e| e == event)
            .unwrap_or_else(|| panic!("no {event:?} in {:?}", self.events()))
    }
}

fn real(_: StageName) -> (Behaviour, Option<Arc<Notify>>) {
    (Behaviour::Real, None)
}

async fn run(shared: Arc<DagShared>, outputs: StageOutputs) -> (DagOutcome, watch::Sender<Option<StopReason>>) {
    let (tx, rx) = watch::channel(None);
    let deadline = shared.deadline;
    (run_dag(shared, outputs, rx, deadline).await, tx)
}

#[tokio::test]
async fn every_stage_runs_once_after_its_dependencies_and_is_checkpointed() {
    let h = harness().await;
    let (outcome, _) = run(h.shared(h.executor(real)), StageOutputs::default()).await;
    let DagOutcome::Completed(outputs) = outcome else {
        panic!("{outcome:?}: {:?}", h.sink.messages())
    };
    for stage in StageName::ALL {
        assert!(outputs.has(stage), "{stage} has no output");
        assert_eq!(
            h.events().iter().filter(|e| **e == format!("{stage} start")).count(),
            1,
            "{stage} ran more than once"
        );
        for dep in stage.dependencies() {
            assert!(
                h.position(&format!("{dep} end")) < h.position(&format!("{stage} start")),
                "{stage} started before {dep} ended: {:?}",
                h.events()
            );
        }
    }
    let records = h.store.load_stages(&h.run_id).await.unwrap();
    assert_eq!(records.len(), StageName::ALL.len());
    assert!(records
        .iter()
        .all(|r| r.status == StageStatus::Completed && r.output.is_some()));
    assert!(h.sink.messages().iter().any(|m| m.contains("completed in")));
}

#[tokio::test]
async fn independent_branches_run_at_the_same_time() {
    let h = harness().await;
    // Pain points may finish only once research has started: if the branches ran one
    // after the other, the run would never get there.
    let research_started = Arc::new(Notify::new());
    let (gate, announce) = (Arc::clone(&research_started), Arc::clone(&research_started));
    let executor = h.executor_announcing(
        move |stage| match stage {
            StageName::PainPoints => (Behaviour::Real, Some(Arc::clone(&gate))),
            _ => (Behaviour::Real, None),
        },
        move |stage| (stage == StageName::Research).then(|| Arc::clone(&announce)),
    );
    let (outcome, _) = run(h.shared(executor), StageOutputs::default()).await;
    assert!(matches!(outcome, DagOutcome::Completed(_)), "{outcome:?}");
    assert!(h.position("research start") < h.position("pain_points end"));
}

#[tokio::test]
async fn a_permanent_failure_fails_the_run_and_starts_nothing_after_it() {
    let h = harness().await;
    let executor = h.executor(|stage| match stage {
        StageName::FitScore => (Behaviour::Fail(StageError::permanent("no evidence")), None),
        _ => (Behaviour::Real, None),
    });
    let (outcome, _) = run(h.shared(executor), StageOutputs::default()).await;
    let DagOutcome::Failed(reason) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        reason.contains("fit_score") && reason.contains("no evidence"),
        "{reason}"
    );
    for later in ["cv start", "cover_letter start", "publisher start"] {
        assert!(
            !h.events().iter().any(|e| e == later),
            "{later} after a failure: {:?}",
            h.events()
        );
    }
    let failed = h.store.load_stages(&h.run_id).await.unwrap();
    assert!(failed
        .iter()
        .any(|r| r.stage == StageName::FitScore && r.status == StageStatus::Failed));
}

#[tokio::test]
async fn transient_failures_are_retried_up_to_the_limit() {
    let h = harness().await;
    let executor = h.executor(|stage| match stage {
        StageName::Research => (Behaviour::Fail(StageError::transient("busy")), None),
        _ => (Behaviour::Real, None),
    });
    let (outcome, _) = run(h.shared(executor), StageOutputs::default()).await;
    assert!(matches!(outcome, DagOutcome::Failed(_)), "{outcome:?}");
    let tries = h.events().iter().filter(|e| *e == "research start").count();
    assert_eq!(tries, 3, "one try and STAGE_MAX_RETRIES=2 retries");
    assert!(h.sink.messages().iter().any(|m| m.contains("retrying in")));
}

#[tokio::test]
async fn cancel_stops_a_running_stage_at_once() {
    let h = harness().await;
    let started = Arc::new(Notify::new());
    let hang = Arc::clone(&started);
    let executor = h.executor(move |stage| match stage {
        StageName::Research => (Behaviour::Hang(Arc::clone(&hang)), None),
        _ => (Behaviour::Real, None),
    });
    let shared = h.shared(executor);
    let (tx, rx) = watch::channel(None);
    let deadline = shared.deadline;
    let dag = tokio::spawn(run_dag(Arc::clone(&shared), StageOutputs::default(), rx, deadline));
    started.notified().await;
    tx.send(Some(StopReason::Cancel)).unwrap();
    let outcome = dag.await.unwrap();
    assert!(matches!(outcome, DagOutcome::Cancelled), "{outcome:?}");
    assert!(!h.events().iter().any(|e| e == "research end"));
}

#[tokio::test]
async fn a_resumed_run_runs_only_the_stages_without_a_checkpoint() {
    let h = harness().await;
    // A first attempt that stops at the last stage (everything before it checkpointed; a
    // stage that fails while a sibling still runs may leave that sibling unfinished).
    let first = h.executor(|stage| match stage {
        StageName::Publisher => (Behaviour::Fail(StageError::permanent("stop here")), None),
        _ => (Behaviour::Real, None),
    });
    let (outcome, _) = run(h.shared(first), StageOutputs::default()).await;
    assert!(matches!(outcome, DagOutcome::Failed(_)));
    // The checkpoints, as the pipeline actor loads them on resume.
    let mut outputs = StageOutputs::default();
    for r in h.store.load_stages(&h.run_id).await.unwrap() {
        if let (StageStatus::Completed, Some(out)) = (r.status, r.output) {
            outputs.insert(r.stage, out).unwrap();
        }
    }
    h.events.lock().unwrap().clear();
    let (outcome, _) = run(h.shared(h.executor(real)), outputs).await;
    assert!(matches!(outcome, DagOutcome::Completed(_)), "{outcome:?}");
    assert_eq!(h.events(), vec!["publisher start", "publisher end"]);
}

#[tokio::test]
async fn a_stop_sent_before_the_start_is_honoured() {
    let h = harness().await;
    let shared = h.shared(h.executor(real));
    let (tx, rx) = watch::channel(Some(StopReason::Cancel));
    let deadline = shared.deadline;
    assert!(matches!(
        run_dag(shared, StageOutputs::default(), rx, deadline).await,
        DagOutcome::Cancelled
    ));
    drop(tx);
    assert!(h.events().is_empty());
}

#[test]
fn backoff_grows_and_is_bounded() {
    for attempt in 1..10 {
        let d = backoff(attempt).as_millis() as u64;
        assert!((100..=7_500).contains(&d), "attempt {attempt}: {d}");
    }
    assert!(backoff(1) <= Duration::from_millis(300));
}
