//! Run logs over HTTP. `GET /jobs/{id}/logs` is Server-Sent Events: one `data:` line per log
//! line with `id:` = its sequence number, pushed the moment the line is published;
//! `Last-Event-ID` (or `?last_event_id=`, for a client reopening the stream) resumes after
//! the last line the client saw; keep-alive comments every
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
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

#[allow(unused_imports)] // the schemas named by `#[utoipa::path]`
use super::openapi::*;
use super::{parse_run_id, AppState};
use crate::actors::log_follow::{FollowError, LogFollower};
use crate::domain::untrusted::escape_controls;
use crate::domain::untrusted::Shown;
use crate::domain::{RunId, RunStatus};
use crate::http::error::ApiError;
use crate::runlog::LogEvent;

/// `text` as one SSE `data:` value: every line break a WHATWG parser honours (`\r`, `\n`)
/// and every other control character escaped.
pub(crate) fn sse_data(text: &str) -> std::borrow::Cow<'_, str> {
    escape_controls(text)
}

fn end_event(status: RunStatus) -> Bytes {
    Bytes::from(format!("event: end\ndata: {status}\n\n"))
}

/// How a stream speaks beyond its log lines: `GET /jobs/{id}/logs` sends only `event: end`;
/// the operations stream (`GET /api/jobs/operations/{id}/logs`) also sends `event:
/// layer_status` on every stage change and `event: result` before its end.
pub(crate) trait Dialect: Send {
    /// Events sent before the log (the state so far).
    fn start(&mut self) -> Vec<Bytes> {
        Vec::new()
    }

    /// Bytes for a stage change, if this dialect reports them.
    fn stage(&mut self, _stage: crate::domain::StageName, _status: crate::domain::StageStatus) -> Option<Bytes> {
        None
    }

    /// The closing events for a run that ended with `status`.
    fn end(&mut self, status: RunStatus) -> futures_util::future::BoxFuture<'static, Vec<Bytes>> {
        Box::pin(async move { vec![end_event(status)] })
    }
}

/// The plain log stream's dialect.
struct Plain;
impl Dialect for Plain {}

/// Writes one SSE client's stream from a follower's events, with keep-alive comments while
/// the log is idle. Returns when the run ended, the follower failed or the client left.
pub(crate) async fn pump(
    mut events: mpsc::Receiver<Result<LogEvent, FollowError>>,
    slot: StreamSlot,
    tx: mpsc::Sender<Bytes>,
    every: Duration,
    run_id: RunId,
    mut dialect: Box<dyn Dialect>,
) {
    let mut keep_alive = tokio::time::interval(every);
    keep_alive.tick().await;
    for bytes in dialect.start() {
        if tx.send(bytes).await.is_err() {
            return;
        }
    }
    loop {
        let bytes = tokio::select! {
            event = events.recv() => match event {
                Some(Ok(LogEvent::Line(line))) => line.sse_frame(),
                Some(Ok(LogEvent::Stage { stage, status })) => match dialect.stage(stage, status) {
                    Some(bytes) => bytes,
                    None => continue,
                },
                Some(Ok(LogEvent::End(status))) => {
                    for bytes in dialect.end(status).await {
                        if tx.send(bytes).await.is_err() {
                            break;
                        }
                    }
                    break;
                }
                Some(Err(e)) => {
                    tracing::warn!(run_id = %run_id, error = %e, "log stream ended with an error");
                    break;
                }
                None => break,
            },
            _ = keep_alive.tick() => Bytes::from_static(b": keep-alive\n\n"),
            _ = tx.closed() => break,
        };
        if tx.send(bytes).await.is_err() {
            break;
        }
    }
    // The slot is free before the client sees its stream end, so it can open another.
    drop(slot);
    drop(tx);
}

/// One open SSE stream, counted against `MAX_SSE_STREAMS` and in `/metrics` for as long
/// as it lives.
pub struct StreamSlot {
    open: Arc<AtomicUsize>,
    metrics: Arc<crate::metrics::Metrics>,
}

impl StreamSlot {
    /// A slot, or `None` when `max` streams are open already.
    pub fn acquire(open: &Arc<AtomicUsize>, max: usize, metrics: &Arc<crate::metrics::Metrics>) -> Option<Self> {
        open.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1))
            .ok()?;
        metrics.sse_subscribers_add(1);
        Some(Self {
            open: Arc::clone(open),
            metrics: Arc::clone(metrics),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::SeqCst);
        self.metrics.sse_subscribers_add(-1);
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

pub(crate) fn last_event_id(req: &HttpRequest) -> Result<u64, ApiError> {
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

#[utoipa::path(get, path = "/jobs/{run_id}/logs", tag = "logs", security(("bearer" = []), ("run_token" = [])),
    params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)"), ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this line"), ("last_event_id" = Option<u64>, Query, description = "Resume after this line, for a client that opens a new stream (the header wins)")),
    description = "Server-sent events: every log line (`id` = line number), then `event: end` with the run's outcome.",
    responses((status = 200, description = "The live log", content_type = "text/event-stream", body = String)))]
#[tracing::instrument(name = "GET /jobs/{run_id}/logs", skip_all, fields(run_id = %Shown(&path)))]
pub async fn stream(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<StreamQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let run_id = parse_run_id(&path)?;
    let last = match last_event_id(&req)? {
        0 => query.last_event_id.unwrap_or(0),
        header => header,
    };
    if state.store.get_run(&run_id).await?.is_none() {
        return Err(ApiError::run_not_found(&path));
    }
    open_stream(&state, run_id, last, Box::new(Plain))
}

/// Streams `run_id`'s log after `last` in `dialect` (the run is known to exist).
pub(crate) fn open_stream(
    state: &AppState,
    run_id: RunId,
    last: u64,
    dialect: Box<dyn Dialect>,
) -> Result<HttpResponse, ApiError> {
    let slot = StreamSlot::acquire(
        &state.sse_streams,
        state.settings.server.max_sse_streams,
        &state.metrics,
    )
    .ok_or_else(|| too_many_streams(state.settings.server.max_sse_streams))?;
    let (tx, rx) = mpsc::channel::<Bytes>(256);
    let events = LogFollower::new(state.hub.clone(), state.store.clone()).follow(run_id.clone(), last);
    tokio::spawn(pump(
        events,
        slot,
        tx,
        state.settings.server.sse_keep_alive,
        run_id,
        dialect,
    ));
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(ReceiverStream::new(rx).map(Ok::<_, Infallible>)))
}

/// Query of the stream: where a client that opens a new `EventSource` (which sends no
/// `Last-Event-ID` of its own) resumes.
#[derive(Debug, Deserialize)]
pub struct StreamQuery {
    last_event_id: Option<u64>,
}

/// Query of the polling endpoint.
#[derive(Debug, Deserialize)]
pub struct PollQuery {
    since: Option<u64>,
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/api/logs/{run_id}", tag = "logs", security(("bearer" = []), ("run_token" = [])),
    params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)"), ("since" = Option<u64>, Query, description = "Lines after this number"), ("limit" = Option<u64>, Query, description = "At most this many lines")),
    responses((status = 200, description = "Log lines after `since`, with `next_index` and the run's status", body = JsonObject)))]
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
    // Stored lines, then those not yet persisted (still in the hub's buffer).
    let lines = LogFollower::new(state.hub.clone(), state.store.clone())
        .read(&run_id, since, limit)
        .await?;
    let next_since = lines.last().map(|l| l.seq).unwrap_or(since);
    let done = run.status.is_terminal() && lines.len() < limit;
    // The newest dashboard's poller (COMPAT-DASHBOARD.md §3): indexes are our sequence
    // numbers (strictly increasing; a resumed run's jump past 1000), so `next_index` is the
    // next `since`, and the poller is done once it reached `expected_log_count`, the highest
    // number of the finished run.
    let highest = state.store.last_log_seq(&run_id).await?.max(next_since);
    let (status, error) = dashboard_status(&run);
    let layer_status = layer_status(&state, &run_id).await?;
    Ok(HttpResponse::Ok().json(json!({
        "run_id": run_id,
        "status": status,
        "lines": lines.iter().map(|l| json!({
            "seq": l.seq, "ts": l.ts, "level": l.level, "stage": l.stage, "message": l.message, "line": l.render(),
        })).collect::<Vec<_>>(),
        "next_since": next_since,
        "done": done,
        "logs": lines.iter().map(|l| json!({
            "index": l.seq,
            "message": l.message,
            "timestamp": l.ts,
            "level": l.level.as_str().to_ascii_lowercase(),
            "layer": l.stage,
            "source": "structured",
        })).collect::<Vec<_>>(),
        "next_index": next_since,
        "total_count": highest,
        "expected_log_count": run.status.is_terminal().then_some(highest),
        "layer_status": layer_status,
        "error": error,
    })))
}

/// The run's status as the dashboard's poller knows them (`queued`, `running`, `completed`,
/// `failed`), with the error to show. A cancelled run is `failed` with error `cancelled`:
/// the poller stops on no other value.
pub(crate) fn dashboard_status(run: &crate::domain::Run) -> (&'static str, Option<String>) {
    match run.status {
        RunStatus::Queued => ("queued", None),
        RunStatus::Running => ("running", None),
        RunStatus::Completed => ("completed", None),
        RunStatus::Failed => ("failed", Some(run.error.clone().unwrap_or_else(|| "failed".into()))),
        RunStatus::Cancelled => ("failed", Some("cancelled".into())),
    }
}

/// The dashboard's word for a stage's state.
pub(crate) fn layer_word(status: crate::domain::StageStatus) -> &'static str {
    match status {
        crate::domain::StageStatus::Pending => "pending",
        crate::domain::StageStatus::Running => "processing",
        crate::domain::StageStatus::Completed => "success",
        crate::domain::StageStatus::Failed => "failed",
    }
}

/// Per stage of `records`: `status` ([`layer_word`]), a `message` and the time of the last
/// change.
pub(crate) fn layer_map(records: &[crate::domain::StageRecord]) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for r in records {
        let message = match r.status {
            crate::domain::StageStatus::Pending => format!("{} waiting", r.stage),
            crate::domain::StageStatus::Running => format!("{} running", r.stage),
            crate::domain::StageStatus::Completed if r.producer == Some(crate::domain::StageProducer::Reused) => {
                format!(
                    "{} reused from run {}",
                    r.stage,
                    r.source_run.as_ref().map_or("(unknown)".to_owned(), |s| s.to_string())
                )
            }
            crate::domain::StageStatus::Completed => format!("{} completed", r.stage),
            crate::domain::StageStatus::Failed => r.error.clone().unwrap_or_else(|| format!("{} failed", r.stage)),
        };
        out.insert(
            r.stage.as_str().to_owned(),
            json!({"status": layer_word(r.status), "message": message, "timestamp": r.finished_at.or(r.started_at)}),
        );
    }
    out
}

/// [`layer_map`] of a run's stored stages.
pub(crate) async fn layer_status(state: &AppState, run_id: &RunId) -> Result<serde_json::Value, ApiError> {
    Ok(serde_json::Value::Object(layer_map(
        &state.store.load_stages(run_id).await?,
    )))
}

/// `GET /api/logs/{run_id}/status`: the poller's `status`, `layer_status` and `error`.
#[utoipa::path(get, path = "/api/logs/{run_id}/status", tag = "logs", security(("bearer" = []), ("run_token" = [])), params(("run_id" = String, Path, pattern = "^[0-9a-f]{32}$", description = "The run id (32 hexadecimal characters)")),
    responses((status = 200, description = "The log's length and the run's status", body = JsonObject)))]
#[tracing::instrument(name = "GET /api/logs/{run_id}/status", skip_all, fields(run_id = %Shown(&path)))]
pub async fn poll_status(state: web::Data<AppState>, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let run_id = parse_run_id(&path)?;
    let run = state
        .store
        .get_run(&run_id)
        .await?
        .ok_or_else(|| ApiError::run_not_found(&path))?;
    let (status, error) = dashboard_status(&run);
    Ok(HttpResponse::Ok().json(json!({
        "run_id": run_id,
        "status": status,
        "layer_status": layer_status(&state, &run_id).await?,
        "error": error,
    })))
}
