//! Run logs over HTTP. `GET /jobs/{id}/logs` is Server-Sent Events: one `data:` line per log
//! line with `id:` = its sequence number, pushed the moment the line is published;
//! `Last-Event-ID` resumes after the last line the client saw; keep-alive comments every
//! `SSE_KEEP_ALIVE_SECONDS`; `event: end` + the final status when the run ends. A client
//! connecting after the end gets the stored log and the end event.
//! `GET /api/logs/{id}?since=&limit=` is the polling fallback.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::{parse_run_id, AppState};
use crate::actors::messages::{CloseRunLog, OpenRunLog, SubscribeLog, Subscription};
use crate::domain::untrusted::escape_controls;
use crate::domain::untrusted::Shown;
use crate::domain::{RunId, RunStatus};
use crate::http::error::ApiError;
use crate::runlog::{LogEvent, LogLine};

const PAGE: usize = 500;
/// How often a run executed by another runner is read from the store.
const TAIL_EVERY: Duration = Duration::from_millis(300);

/// One SSE event for a log line. The hub publishes lines without control characters;
/// lines stored before it did (or written by another runner) pass [`sse_data`] all the
/// same, so no text can end the `data:` field and forge `id:` or `event:` fields.
fn line_event(line: &LogLine) -> Bytes {
    Bytes::from(format!("id: {}\ndata: {}\n\n", line.seq, sse_data(&line.render())))
}

/// `text` as one SSE `data:` value: every line break a WHATWG parser honours (`\r`, `\n`)
/// and every other control character escaped.
pub(crate) fn sse_data(text: &str) -> std::borrow::Cow<'_, str> {
    escape_controls(text)
}

fn end_event(status: RunStatus) -> Bytes {
    Bytes::from(format!("event: end\ndata: {status}\n\n"))
}

/// Feeds one SSE client. Returns when the run ended or the client went away.
struct Feeder {
    state: web::Data<AppState>,
    run_id: RunId,
    /// Released before `tx` closes (fields drop in order), so a client that saw its stream
    /// end can open another at once.
    _slot: StreamSlot,
    tx: mpsc::Sender<Bytes>,
    last: u64,
}

impl Feeder {
    async fn send(&self, bytes: Bytes) -> bool {
        self.tx.send(bytes).await.is_ok()
    }

    async fn send_line(&mut self, line: &LogLine) -> bool {
        if line.seq <= self.last {
            return true;
        }
        self.last = line.seq;
        self.send(line_event(line)).await
    }

    /// Sends stored lines after `self.last` and before `until` (exclusive).
    async fn replay_stored(&mut self, until: Option<u64>) -> Result<bool, ApiError> {
        loop {
            let lines = self.state.store.read_logs(&self.run_id, self.last, PAGE).await?;
            let n = lines.len();
            for line in lines.iter().filter(|l| until.is_none_or(|u| l.seq < u)) {
                if !self.send_line(line).await {
                    return Ok(false);
                }
            }
            if n < PAGE || until.is_some_and(|u| self.last + 1 >= u) {
                return Ok(true);
            }
        }
    }

    /// The terminal status from the store, if the run has one.
    async fn stored_end(&self) -> Result<Option<RunStatus>, ApiError> {
        Ok(self
            .state
            .store
            .get_run(&self.run_id)
            .await?
            .map(|r| r.status)
            .filter(|s| s.is_terminal()))
    }

    /// Follows a run executed by another runner through the store (lines are persisted
    /// within ~100 ms of being produced there), until it ends or the client leaves.
    async fn tail_store(&mut self, keep_alive: &mut tokio::time::Interval) -> Result<(), ApiError> {
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
                        self.send(end_event(status)).await;
                        return Ok(());
                    }
                }
                _ = keep_alive.tick() => {
                    if !self.send(Bytes::from_static(b": keep-alive\n\n")).await {
                        return Ok(());
                    }
                }
                _ = self.tx.closed() => return Ok(()),
            }
        }
    }

    async fn run(mut self) -> Result<(), ApiError> {
        let mut keep_alive = tokio::time::interval(self.state.settings.sse_keep_alive);
        keep_alive.tick().await;
        loop {
            let sub = self
                .state
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
                        self.send(end_event(status)).await;
                        return Ok(());
                    }
                    if self.state.store.is_shared() {
                        // Another runner may execute it: follow the stored log.
                        return self.tail_store(&mut keep_alive).await;
                    }
                    // Queued or about to start in this process: track it so lines reach
                    // us live, then check again that it did not end meanwhile.
                    let stored_last = self.state.store.last_log_seq(&self.run_id).await?;
                    // Stored lines of a run not tracked here come from an earlier attempt.
                    let next_seq = crate::runlog::next_seq(stored_last, true);
                    self.state
                        .hub
                        .send(OpenRunLog {
                            run_id: self.run_id.clone(),
                            next_seq,
                        })
                        .await?;
                    if let Some(status) = self.stored_end().await? {
                        self.state.hub.do_send(CloseRunLog {
                            run_id: self.run_id.clone(),
                            status: None,
                        });
                        self.replay_stored(None).await?;
                        self.send(end_event(status)).await;
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
                        Ok(LogEvent::Stage { .. }) => {}
                        Ok(LogEvent::End(status)) => {
                            self.send(end_event(status)).await;
                            return Ok(());
                        }
                        // Too slow: pick up again from the last line sent.
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        // No longer tracked here (re-queued, or ended without an event).
                        Err(broadcast::error::RecvError::Closed) => {
                            if let Some(status) = self.stored_end().await? {
                                self.replay_stored(None).await?;
                                self.send(end_event(status)).await;
                                return Ok(());
                            }
                            break;
                        }
                    },
                    _ = keep_alive.tick() => {
                        if !self.send(Bytes::from_static(b": keep-alive\n\n")).await {
                            return Ok(());
                        }
                    }
                    _ = self.tx.closed() => return Ok(()),
                }
            }
        }
    }
}

/// One open SSE stream, counted against `MAX_SSE_STREAMS` and in `/metrics` for as long
/// as it lives.
pub struct StreamSlot(Arc<AtomicUsize>);

impl StreamSlot {
    /// A slot, or `None` when `max` streams are open already.
    pub fn acquire(open: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        open.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1))
            .ok()?;
        crate::metrics::global().sse_subscribers_add(1);
        Some(Self(Arc::clone(open)))
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        crate::metrics::global().sse_subscribers_add(-1);
    }
}

fn too_many_streams(max: usize) -> ApiError {
    let mut err = ApiError::new(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "TOO_MANY_STREAMS",
        format!("{max} log streams are open (MAX_SSE_STREAMS); retry shortly or poll /api/logs/<run_id>"),
    );
    err.retry_after = Some(5);
    err
}

fn last_event_id(req: &HttpRequest) -> Result<u64, ApiError> {
    match req.headers().get("Last-Event-ID").map(|v| v.to_str().map(str::trim)) {
        None => Ok(0),
        Some(Ok("")) => Ok(0),
        Some(Ok(v)) => v.parse().map_err(|_| {
            ApiError::new(
                actix_web::http::StatusCode::BAD_REQUEST,
                "INVALID_LAST_EVENT_ID",
                format!("Last-Event-ID must be a log sequence number, got {v:?}"),
            )
        }),
        Some(Err(_)) => Err(ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            "INVALID_LAST_EVENT_ID",
            "Last-Event-ID is not valid text",
        )),
    }
}

#[tracing::instrument(name = "GET /jobs/{run_id}/logs", skip_all, fields(run_id = %Shown(&path)))]
pub async fn stream(
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let run_id = parse_run_id(&path)?;
    let last = last_event_id(&req)?;
    if state.store.get_run(&run_id).await?.is_none() {
        return Err(ApiError::run_not_found(&path));
    }
    let slot = StreamSlot::acquire(&state.sse_streams, state.settings.max_sse_streams)
        .ok_or_else(|| too_many_streams(state.settings.max_sse_streams))?;
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let feeder = Feeder {
        state: state.clone(),
        run_id: run_id.clone(),
        _slot: slot,
        tx,
        last,
    };
    tokio::spawn(async move {
        if let Err(e) = feeder.run().await {
            tracing::warn!(run_id = %run_id, error = %e, "log stream ended with an error");
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(ReceiverStream::new(rx).map(Ok::<_, Infallible>)))
}

/// Query of the polling endpoint.
#[derive(Debug, Deserialize)]
pub struct PollQuery {
    since: Option<u64>,
    limit: Option<usize>,
}

#[tracing::instrument(name = "GET /api/logs/{run_id}", skip_all, fields(run_id = %Shown(&path)))]
pub async fn poll(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<PollQuery>,
) -> Result<HttpResponse, ApiError> {
    let run_id = parse_run_id(&path)?;
    let since = query.since.unwrap_or(0);
    let limit = query.limit.unwrap_or(200);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::validation(format!("limit must be 1–1000, got {limit}")));
    }
    let run = state
        .store
        .get_run(&run_id)
        .await?
        .ok_or_else(|| ApiError::run_not_found(&path))?;
    let mut lines = state.store.read_logs(&run_id, since, limit).await?;
    // Lines not yet persisted are still in the hub's buffer.
    if lines.len() < limit {
        if let Subscription::Live { backlog, .. } = state
            .hub
            .send(SubscribeLog {
                run_id: run_id.clone(),
                after: lines.last().map(|l| l.seq).unwrap_or(since),
            })
            .await?
        {
            lines.extend(backlog.into_iter().take(limit - lines.len()));
        }
    }
    let next_since = lines.last().map(|l| l.seq).unwrap_or(since);
    let done = run.status.is_terminal() && lines.len() < limit;
    Ok(HttpResponse::Ok().json(json!({
        "run_id": run_id,
        "status": run.status,
        "lines": lines.iter().map(|l| json!({
            "seq": l.seq, "ts": l.ts, "level": l.level, "stage": l.stage, "message": l.message, "line": l.render(),
        })).collect::<Vec<_>>(),
        "next_since": next_since,
        "done": done,
    })))
}
