//! Following a run's log, once for every reader: the SSE stream, the polling endpoint and
//! `job-runner run`. [`LogFollower::follow`] yields every line after a sequence number,
//! stage changes and the end, whatever the run's state: stored lines first, then the log
//! hub's buffer, then live events; a run not tracked here is opened in the hub (queued in
//! this process) or tailed through the store (executed by another runner). Lines come in
//! order, each once, and a reader that lags behind the hub picks up from the store.
//! [`LogFollower::read`] is the same merge of store and buffer, once, for polling.

use actix::Addr;
use tokio::sync::{broadcast, mpsc};
use tokio::time::Duration;

use super::log_hub::LogHub;
use super::messages::{CloseRunLog, OpenRunLog, SubscribeLog, Subscription};
use crate::domain::{RunId, RunStatus};
use crate::runlog::{LogEvent, LogLine, SharedLine};
use crate::store::{DynStore, StoreError};

/// Lines read from the store per page.
const PAGE: usize = 500;
/// How often a run executed by another runner is read from the store.
const TAIL_EVERY: Duration = Duration::from_millis(300);
/// Events a follower may hold before the reader takes them.
const BUFFER: usize = 256;

/// Why following stopped early.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the log hub is not available: {0}")]
    Hub(#[from] actix::MailboxError),
}

/// Reads run logs from the hub and the store.
#[derive(Clone)]
pub struct LogFollower {
    hub: Addr<LogHub>,
    store: DynStore,
}

impl LogFollower {
    /// A follower over this process's hub and the store.
    pub fn new(hub: Addr<LogHub>, store: DynStore) -> Self {
        Self { hub, store }
    }

    /// Every event of `run_id` after line `after` until the run ends (then the channel
    /// closes) or the receiver is dropped. An error is the last item.
    pub fn follow(&self, run_id: RunId, after: u64) -> mpsc::Receiver<Result<LogEvent, FollowError>> {
        let (tx, rx) = mpsc::channel(BUFFER);
        let follow = Follow {
            hub: self.hub.clone(),
            store: self.store.clone(),
            run_id,
            tx,
            last: after,
        };
        tokio::spawn(async move {
            let tx = follow.tx.clone();
            if let Err(e) = follow.run().await {
                let _ = tx.send(Err(e)).await;
            }
        });
        rx
    }

    /// The lines of `run_id` after `after` available now, at most `limit`: stored lines,
    /// then lines still only in the hub's buffer.
    pub async fn read(&self, run_id: &RunId, after: u64, limit: usize) -> Result<Vec<LogLine>, FollowError> {
        let mut lines = self.store.read_logs(run_id, after, limit).await?;
        if lines.len() < limit {
            let sub = self
                .hub
                .send(SubscribeLog {
                    run_id: run_id.clone(),
                    after: lines.last().map(|l| l.seq).unwrap_or(after),
                })
                .await?;
            if let Subscription::Live { backlog, .. } = sub {
                lines.extend(backlog.iter().take(limit - lines.len()).map(|l| l.line().clone()));
            }
        }
        Ok(lines)
    }
}

/// One follower task.
struct Follow {
    hub: Addr<LogHub>,
    store: DynStore,
    run_id: RunId,
    tx: mpsc::Sender<Result<LogEvent, FollowError>>,
    /// The last line sent.
    last: u64,
}

impl Follow {
    async fn send(&self, event: LogEvent) -> bool {
        self.tx.send(Ok(event)).await.is_ok()
    }

    async fn send_line(&mut self, line: &SharedLine) -> bool {
        if line.seq <= self.last {
            return true;
        }
        self.last = line.seq;
        self.send(LogEvent::Line(line.clone())).await
    }

    /// Sends stored lines after `self.last` and before `until` (exclusive).
    async fn replay_stored(&mut self, until: Option<u64>) -> Result<bool, FollowError> {
        loop {
            let lines = self.store.read_logs(&self.run_id, self.last, PAGE).await?;
            let n = lines.len();
            for line in lines.into_iter().filter(|l| until.is_none_or(|u| l.seq < u)) {
                if !self.send_line(&SharedLine::new(line)).await {
                    return Ok(false);
                }
            }
            if n < PAGE || until.is_some_and(|u| self.last + 1 >= u) {
                return Ok(true);
            }
        }
    }

    /// The terminal status from the store, if the run has one.
    async fn stored_end(&self) -> Result<Option<RunStatus>, FollowError> {
        Ok(self
            .store
            .get_run(&self.run_id)
            .await?
            .map(|r| r.status)
            .filter(|s| s.is_terminal()))
    }

    /// Follows a run executed by another runner through the store (lines are persisted
    /// within ~100 ms of being produced there), until it ends or the client leaves.
    async fn tail_store(&mut self) -> Result<(), FollowError> {
        let mut poll = tokio::time::interval(TAIL_EVERY);
        loop {
            tokio::select! {
                _ = poll.tick() => {
                    // Read the status first so no line written before the end is missed.
                    let end = self.stored_end().await?;
                    if !self.replay_stored(None).await? {
                        return Ok(());
                    }
                    if let Some(status) = end {
                        self.send(LogEvent::End(status)).await;
                        return Ok(());
                    }
                }
                _ = self.tx.closed() => return Ok(()),
            }
        }
    }

    async fn run(mut self) -> Result<(), FollowError> {
        loop {
            let sub = self
                .hub
                .send(SubscribeLog {
                    run_id: self.run_id.clone(),
                    after: self.last,
                })
                .await?;
            let (backlog, backlog_from, mut events) = match sub {
                Subscription::Live {
                    backlog,
                    backlog_from,
                    events,
                } => (backlog, backlog_from, events),
                Subscription::NotTracked => {
                    if !self.replay_stored(None).await? {
                        return Ok(());
                    }
                    if let Some(status) = self.stored_end().await? {
                        self.send(LogEvent::End(status)).await;
                        return Ok(());
                    }
                    if self.store.is_shared() {
                        // Another runner may execute it: follow the stored log.
                        return self.tail_store().await;
                    }
                    // Queued or about to start in this process: track it so lines reach
                    // us live, then check again that it did not end meanwhile.
                    let stored_last = self.store.last_log_seq(&self.run_id).await?;
                    // Stored lines of a run not tracked here come from an earlier attempt.
                    let next_seq = crate::runlog::next_seq(stored_last, true);
                    self.hub
                        .send(OpenRunLog {
                            run_id: self.run_id.clone(),
                            next_seq,
                        })
                        .await?;
                    if let Some(status) = self.stored_end().await? {
                        self.hub.do_send(CloseRunLog {
                            run_id: self.run_id.clone(),
                            status: None,
                        });
                        self.replay_stored(None).await?;
                        self.send(LogEvent::End(status)).await;
                        return Ok(());
                    }
                    continue;
                }
            };
            if backlog_from > self.last + 1 && !self.replay_stored(Some(backlog_from)).await? {
                return Ok(());
            }
            for line in &backlog {
                if !self.send_line(line).await {
                    return Ok(());
                }
            }
            loop {
                tokio::select! {
                    event = events.recv() => match event {
                        Ok(LogEvent::Line(line)) => {
                            if !self.send_line(&line).await {
                                return Ok(());
                            }
                        }
                        Ok(stage @ LogEvent::Stage { .. }) => {
                            if !self.send(stage).await {
                                return Ok(());
                            }
                        }
                        Ok(LogEvent::End(status)) => {
                            self.send(LogEvent::End(status)).await;
                            return Ok(());
                        }
                        // Too slow: pick up again from the last line sent.
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        // No longer tracked here (re-queued, or ended without an event).
                        Err(broadcast::error::RecvError::Closed) => {
                            if let Some(status) = self.stored_end().await? {
                                self.replay_stored(None).await?;
                                self.send(LogEvent::End(status)).await;
                                return Ok(());
                            }
                            break;
                        }
                    },
                    _ = self.tx.closed() => return Ok(()),
                }
            }
        }
    }
}
