//! LogHub: per run, the last `LOG_BUFFER_LIMIT` lines in memory, fan-out to live
//! subscribers (SSE, CLI progress) the moment a line is published, and batched persistence
//! so a finished run's log can be replayed after a restart.
//!
//! Each line gets the next sequence number of its run; it is the SSE `id`. Lines are
//! persisted every 100 ms or every 256 lines, and always before a run is closed, so a
//! client that connects after the end reads the complete log from the store.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::broadcast;

use super::messages::{CloseRunLog, FlushLogs, OpenRunLog, PublishLine, StageChanged, SubscribeLog, Subscription};
use crate::domain::untrusted::run_log_lines;
use crate::domain::{RunId, RunStatus, StageName, StageStatus};
use crate::metrics::Metrics;
use crate::runlog::{BoxFuture, LogEvent, LogLevel, LogLine, LogSink, SharedLine};
use crate::store::DynStore;

/// How many lines may be waiting for persistence before a flush is forced.
const FLUSH_BATCH: usize = 256;

struct RunLogState {
    next_seq: u64,
    lines: VecDeque<SharedLine>,
    events: broadcast::Sender<LogEvent>,
}

/// The log hub actor.
pub struct LogHub {
    /// Where lines are persisted.
    store: DynStore,
    /// Lines kept in memory per run (`LOG_BUFFER_LIMIT`).
    buffer_limit: usize,
    /// Runs this process is tracking.
    runs: HashMap<RunId, RunLogState>,
    /// Lines not yet persisted, in publish order.
    pending: Vec<LogLine>,
    /// Lines dropped because the store stayed unreachable (reported in logs).
    dropped: u64,
    metrics: Arc<Metrics>,
}

impl LogHub {
    /// A hub persisting to `store` and keeping `buffer_limit` lines per run.
    pub fn new(store: DynStore, buffer_limit: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            store,
            buffer_limit,
            runs: HashMap::new(),
            pending: Vec::new(),
            dropped: 0,
        }
    }

    fn state(&mut self, run_id: &RunId) -> &mut RunLogState {
        let limit = self.buffer_limit;
        self.runs.entry(run_id.clone()).or_insert_with(|| RunLogState {
            next_seq: 1,
            lines: VecDeque::new(),
            events: broadcast::channel(limit).0,
        })
    }

    /// A future persisting the pending lines. Run with `ctx.wait` (or atomically), so the
    /// actor handles no other message meanwhile: batches stay in order and a close waits
    /// for its lines.
    fn flush_future(&mut self) -> ResponseActFuture<Self, ()> {
        if self.pending.is_empty() {
            return Box::pin(actix::fut::ready(()));
        }
        let batch = std::mem::take(&mut self.pending);
        let store = self.store.clone();
        Box::pin(
            async move {
                let result = store.append_logs(&batch).await;
                (batch, result)
            }
            .into_actor(self)
            .map(|(batch, result), act, _| {
                if let Err(e) = result {
                    // Keep the lines for the next round, at most LOG_BUFFER_LIMIT of them,
                    // so memory cannot grow without limit while the store is down.
                    let cap = act.buffer_limit;
                    let mut kept = batch;
                    kept.append(&mut act.pending);
                    if kept.len() > cap {
                        let lost = kept.len() - cap;
                        act.metrics.log_lines_dropped(lost as u64);
                        act.dropped += lost as u64;
                        kept.drain(..lost);
                        tracing::error!(lost, total_dropped = act.dropped, "run log lines dropped: store unavailable");
                    }
                    act.pending = kept;
                    tracing::warn!(error = %e, pending = act.pending.len(), "could not persist run log lines; will retry");
                }
            }),
        )
    }

    fn flush(&mut self, ctx: &mut Context<Self>) {
        if !self.pending.is_empty() {
            let fut = self.flush_future();
            ctx.wait(fut);
        }
    }

    fn publish(
        &mut self,
        run_id: RunId,
        level: LogLevel,
        stage: Option<StageName>,
        message: &str,
        ctx: &mut Context<Self>,
    ) {
        let limit = self.buffer_limit;
        // Split at every line break (a bare `\r` included) and escape the other control
        // characters: no published line can end an SSE field or forge a log line.
        for part in run_log_lines(message) {
            let state = self.state(&run_id);
            let line = LogLine {
                run_id: run_id.clone(),
                seq: state.next_seq,
                ts: chrono::Utc::now(),
                level,
                stage,
                message: part,
            };
            state.next_seq += 1;
            let shared = SharedLine::new(line.clone());
            state.lines.push_back(shared.clone());
            if state.lines.len() > limit {
                state.lines.pop_front();
            }
            // No subscriber is fine.
            let _ = state.events.send(LogEvent::Line(shared));
            self.pending.push(line);
        }
        if self.pending.len() >= FLUSH_BATCH {
            self.flush(ctx);
        }
    }
}

impl Actor for LogHub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.run_interval(Duration::from_millis(100), |act, ctx| act.flush(ctx));
    }
}

impl Handler<OpenRunLog> for LogHub {
    type Result = ();
    fn handle(&mut self, msg: OpenRunLog, _: &mut Context<Self>) {
        let state = self.state(&msg.run_id);
        state.next_seq = state.next_seq.max(msg.next_seq);
    }
}

impl Handler<PublishLine> for LogHub {
    type Result = ();
    fn handle(&mut self, msg: PublishLine, ctx: &mut Context<Self>) {
        self.publish(msg.run_id, msg.level, msg.stage, &msg.message, ctx);
    }
}

impl Handler<StageChanged> for LogHub {
    type Result = ();
    fn handle(&mut self, msg: StageChanged, _: &mut Context<Self>) {
        let _ = self.state(&msg.run_id).events.send(LogEvent::Stage {
            stage: msg.stage,
            status: msg.status,
        });
    }
}

impl Handler<FlushLogs> for LogHub {
    type Result = AtomicResponse<Self, ()>;
    fn handle(&mut self, _: FlushLogs, _: &mut Context<Self>) -> Self::Result {
        AtomicResponse::new(self.flush_future())
    }
}

impl Handler<CloseRunLog> for LogHub {
    type Result = AtomicResponse<Self, ()>;
    fn handle(&mut self, msg: CloseRunLog, _: &mut Context<Self>) -> Self::Result {
        // The answer goes out after the run's lines are stored.
        AtomicResponse::new(Box::pin(self.flush_future().map(move |_, act: &mut LogHub, _| {
            if let Some(state) = act.runs.remove(&msg.run_id) {
                if let Some(status) = msg.status {
                    let _ = state.events.send(LogEvent::End(status));
                }
            }
        })))
    }
}

impl Handler<SubscribeLog> for LogHub {
    type Result = MessageResult<SubscribeLog>;
    fn handle(&mut self, msg: SubscribeLog, _: &mut Context<Self>) -> Self::Result {
        let Some(state) = self.runs.get(&msg.run_id) else {
            return MessageResult(Subscription::NotTracked);
        };
        let backlog_from = state.lines.front().map(|l| l.seq).unwrap_or(state.next_seq);
        let backlog = state.lines.iter().filter(|l| l.seq > msg.after).cloned().collect();
        MessageResult(Subscription::Live {
            backlog,
            backlog_from,
            events: state.events.subscribe(),
        })
    }
}

/// The hub as the sink of [`RunLog`](crate::runlog::RunLog) handles: each line and stage change is a message to
/// the actor (fire and forget, in order).
impl LogSink for Addr<LogHub> {
    fn open(&self, run_id: &RunId, next_seq: u64) {
        self.do_send(OpenRunLog {
            run_id: run_id.clone(),
            next_seq,
        });
    }

    fn close(&self, run_id: &RunId, status: Option<RunStatus>) -> BoxFuture<'static, ()> {
        let closed = self.send(CloseRunLog {
            run_id: run_id.clone(),
            status,
        });
        Box::pin(async move {
            let _ = closed.await;
        })
    }

    fn publish(&self, run_id: &RunId, level: LogLevel, stage: Option<StageName>, message: String) {
        self.do_send(PublishLine {
            run_id: run_id.clone(),
            level,
            stage,
            message,
        });
    }

    fn stage_changed(&self, run_id: &RunId, stage: StageName, status: StageStatus) {
        self.do_send(StageChanged {
            run_id: run_id.clone(),
            stage,
            status,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Redactor;
    use crate::runlog::{RunLog, STORED_ERROR_CHARS};
    use crate::store::sqlite::SqliteStore;

    #[actix::test]
    async fn lines_are_split_at_every_break_and_secrets_masked_before_they_are_published() {
        let dir = tempfile::tempdir().unwrap();
        let store: DynStore = Arc::new(SqliteStore::open(dir.path()).await.unwrap());
        let hub = LogHub::new(store.clone(), 100, Arc::default()).start();
        let run = RunId::generate();
        let redactor = Arc::new(Redactor::with_secrets(["sk-secret-4242".to_owned()]));
        let mask: Arc<dyn crate::runlog::Mask> = Arc::new(move |t: &str| redactor.redact_secrets(t));
        let log = RunLog::new(run.clone(), Arc::new(hub.clone()), mask);
        log.warn("provider said: key sk-secret-4242\rid: 99\revent: end\u{1b}[2J");
        hub.send(FlushLogs).await.unwrap();
        let lines = store.read_logs(&run, 0, 100).await.unwrap();
        let messages: Vec<&str> = lines.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(
            messages,
            vec!["provider said: key ****", "id: 99", "event: end\\u{1b}[2J"]
        );
        assert_eq!(lines.iter().map(|l| l.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        // What a run stores as its error: masked, one line, bounded.
        assert_eq!(log.scrub("boom sk-secret-4242\nnext"), "boom ****\\nnext");
        assert!(log.scrub(&"x".repeat(100_000)).len() < STORED_ERROR_CHARS + 40);
    }
}
