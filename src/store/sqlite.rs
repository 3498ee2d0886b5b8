//! The embedded backend: one SQLite file in `DATA_DIR` (WAL mode). rusqlite is blocking,
//! so every call goes through `SqliteStore::call`, which runs the closure on tokio's
//! blocking pool with the single connection; the async threads never touch SQLite.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::{Map, Value};

use super::{
    AlertRecord, AuditEntry, CallOutcome, FieldValue, FinishedCounts, JobPurge, JobSummary, JobUpdate, LeaseState,
    LlmCall, LogLine, QueueQuery, QueueView, RunFilter, RunFinish, RunPage, RunnerBeat, Store, StoreError, TokenRecord,
    WebhookDelivery,
};
use crate::domain::outputs::Provenance;
use crate::domain::{
    JobId, JobPosting, QueueId, Run, RunId, RunStatus, StageName, StageProducer, StageRecord, StageStatus,
};
use crate::runlog::LogLevel;

/// Versioned schema steps; each runs once, in order, inside a transaction.
const MIGRATIONS: &[&str] = &[
    // 1: jobs, runs, stages, logs, llm calls.
    r#"
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        doc TEXT NOT NULL,
        imported_at TEXT NOT NULL
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        status TEXT NOT NULL,
        profile_ref TEXT,
        source TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        updated_at TEXT NOT NULL,
        finished_at TEXT,
        error TEXT,
        artifacts TEXT NOT NULL DEFAULT '{}',
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_expires_at TEXT
    );
    CREATE INDEX runs_status_created ON runs(status, created_at);
    CREATE INDEX runs_job ON runs(job_id, created_at);
    CREATE TABLE stages (
        run_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        duration_ms INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        producer TEXT,
        output TEXT,
        error TEXT,
        PRIMARY KEY (run_id, stage)
    );
    CREATE TABLE run_logs (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts TEXT NOT NULL,
        level TEXT NOT NULL,
        stage TEXT,
        message TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE llm_calls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost_usd REAL,
        latency_ms INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX llm_calls_run ON llm_calls(run_id, id);
    "#,
    // 2: cancel requests that reach the instance running the run.
    r#"
    ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
    "#,
    // 3: the research cache (FireCrawl answers with an expiry) and spend queries by time.
    r#"
    CREATE TABLE research_cache (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX research_cache_expiry ON research_cache(expires_at);
    CREATE INDEX llm_calls_at ON llm_calls(at);
    "#,
    // 4: runs carry their LLM cost.
    r#"
    ALTER TABLE runs ADD COLUMN cost_usd REAL;
    "#,
    // 5: runs carry the processing tier their request named.
    r#"
    ALTER TABLE runs ADD COLUMN processing_tier TEXT;
    "#,
    // 6: the health actor's alert history.
    r#"
    CREATE TABLE alerts (
        id TEXT PRIMARY KEY,
        at TEXT NOT NULL,
        level TEXT NOT NULL,
        source TEXT NOT NULL,
        message TEXT NOT NULL,
        metadata TEXT NOT NULL
    );
    CREATE INDEX alerts_at ON alerts(at);
    "#,
    // 7: runs are the dashboard's queue items: a queue id, the operation, retries, the
    // queue order, dismiss/hide flags of the queue view, and the job's title and company.
    r#"
    ALTER TABLE runs ADD COLUMN queue_id TEXT;
    ALTER TABLE runs ADD COLUMN operation TEXT NOT NULL DEFAULT 'batch-pipeline';
    ALTER TABLE runs ADD COLUMN retry_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN queued_at TEXT;
    ALTER TABLE runs ADD COLUMN dismissed_at TEXT;
    ALTER TABLE runs ADD COLUMN hidden_at TEXT;
    ALTER TABLE runs ADD COLUMN job_title TEXT;
    ALTER TABLE runs ADD COLUMN company TEXT;
    UPDATE runs SET queue_id = 'q_' || substr(id, 1, 12), queued_at = created_at;
    CREATE UNIQUE INDEX runs_queue_id ON runs(queue_id);
    CREATE INDEX runs_status_queued ON runs(status, queued_at);
    CREATE INDEX runs_status_finished ON runs(status, finished_at);
    "#,
    // 8: LLM calls say which prompt and turn they answered and why an answer was rejected.
    r#"
    ALTER TABLE llm_calls ADD COLUMN prompt TEXT NOT NULL DEFAULT '';
    ALTER TABLE llm_calls ADD COLUMN turn INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE llm_calls ADD COLUMN detail TEXT;
    ALTER TABLE stages ADD COLUMN model TEXT;
    "#,
    // 9: a stage an operation did not execute records the run whose output it reused.
    r#"
    ALTER TABLE stages ADD COLUMN source_run TEXT;
    "#,
    // 10: the run's options as requested (`use_llm`, `force_refresh`).
    r#"
    ALTER TABLE runs ADD COLUMN use_llm INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE runs ADD COLUMN force_refresh INTEGER NOT NULL DEFAULT 0;
    "#,
    // 11: execution time across attempts, so the run timeout covers the whole run.
    r#"
    ALTER TABLE runs ADD COLUMN elapsed_ms INTEGER NOT NULL DEFAULT 0;
    "#,
    // 12: a failed run retried as a new run names it.
    r#"
    ALTER TABLE runs ADD COLUMN retried_by TEXT;
    "#,
    // 13: runners' heartbeats (`GET /runners`).
    r#"
    CREATE TABLE runners (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        version TEXT NOT NULL,
        started_at TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        active_runs INTEGER NOT NULL,
        draining INTEGER NOT NULL
    );
    "#,
    // 14: run tokens (kept until they expire, for revocation) and the audit trail.
    r#"
    CREATE TABLE run_tokens (
        jti TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        revoked_at TEXT,
        issued_by TEXT NOT NULL
    );
    CREATE INDEX run_tokens_expiry ON run_tokens(expires_at);
    CREATE INDEX run_tokens_run ON run_tokens(run_id);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        request_id TEXT NOT NULL,
        actor TEXT NOT NULL,
        client TEXT NOT NULL,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        route TEXT NOT NULL,
        status INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        code TEXT
    );
    CREATE INDEX audit_at ON audit(at);
    "#,
    // 15: delivery attempts to remote receivers (completion webhook, CV upload).
    r#"
    CREATE TABLE webhook_deliveries (
        run_id TEXT NOT NULL,
        target TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at TEXT NOT NULL,
        status INTEGER,
        error TEXT,
        duration_ms INTEGER NOT NULL,
        delivered INTEGER NOT NULL,
        PRIMARY KEY (run_id, delivery_id, attempt)
    );
    "#,
    // 16: console sessions ended by logout (kept until they would have expired).
    r#"
    CREATE TABLE revoked_sessions (
        jti TEXT PRIMARY KEY,
        expires_at TEXT NOT NULL,
        revoked_at TEXT NOT NULL
    );
    CREATE INDEX revoked_sessions_expiry ON revoked_sessions(expires_at);
    CREATE INDEX jobs_imported ON jobs(imported_at);
    "#,
];

const LLM_CALL_COLUMNS: &str =
    "run_id, stage, provider, model, input_tokens, output_tokens, cost_usd, latency_ms, outcome, at, prompt, turn, detail";

fn llm_call_from_row(r: &Row<'_>) -> Result<LlmCall, rusqlite::Error> {
    Ok(LlmCall {
        run_id: RunId::parse(&r.get::<_, String>(0)?).map_err(text_error)?,
        stage: r.get::<_, String>(1)?.parse().map_err(text_error)?,
        provider: r.get(2)?,
        model: r.get(3)?,
        input_tokens: r.get::<_, i64>(4)? as u64,
        output_tokens: r.get::<_, i64>(5)? as u64,
        cost_usd: r.get(6)?,
        latency_ms: r.get::<_, i64>(7)? as u64,
        outcome: CallOutcome::parse(&r.get::<_, String>(8)?)
            .ok_or_else(|| text_error("unknown LLM call outcome".to_owned()))?,
        at: parse_ts(&r.get::<_, String>(9)?)?,
        prompt: r.get(10)?,
        turn: r.get(11)?,
        detail: r.get(12)?,
    })
}

const STAGE_COLUMNS: &str = "s.stage, s.status, s.started_at, s.finished_at, s.duration_ms, s.attempts, s.producer, \
     s.output, s.error, s.model, s.source_run";

fn stage_from_row(r: &Row<'_>) -> Result<StageRecord, rusqlite::Error> {
    let stage: String = r.get(0)?;
    let status: String = r.get(1)?;
    let producer: Option<String> = r.get(6)?;
    let output: Option<String> = r.get(7)?;
    Ok(StageRecord {
        stage: stage.parse().map_err(text_error)?,
        status: status.parse::<StageStatus>().map_err(text_error)?,
        started_at: opt_ts(r.get(2)?)?,
        finished_at: opt_ts(r.get(3)?)?,
        duration_ms: r.get::<_, Option<i64>>(4)?.map(|d| d as u64),
        attempts: r.get(5)?,
        producer: producer.map(|p| StageProducer::from_stored(&p)),
        output: output
            .map(|o| serde_json::from_str(&o).map_err(conversion))
            .transpose()?,
        error: r.get(8)?,
        model: r.get(9)?,
        source_run: r
            .get::<_, Option<String>>(10)?
            .map(|s| RunId::parse(&s).map_err(text_error))
            .transpose()?,
    })
}

/// The SQLite-backed store.
#[derive(Clone)]
pub struct SqliteStore {
    /// The writing connection, serialised by the mutex; SQLite itself serialises writers
    /// anyway. Everything that writes, and every read of several statements, uses it.
    conn: Arc<Mutex<Connection>>,
    /// Read-only connections for single-statement reads (run status, logs, stages, ...):
    /// in WAL mode they read the last committed state beside the writer, so polling reads
    /// neither wait for a write nor for each other.
    readers: Arc<[Mutex<Connection>]>,
    /// Which reader the next read takes.
    next_reader: Arc<std::sync::atomic::AtomicUsize>,
}

/// Read-only connections beside the writer (one per core on the target machine).
const READERS: usize = 2;

fn ts(t: DateTime<Utc>) -> String {
    // Fixed width so that text order is time order.
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_ts(s: &str) -> Result<DateTime<Utc>, rusqlite::Error> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn read_token(c: &Connection, jti: &str) -> Result<Option<TokenRecord>, rusqlite::Error> {
    c.query_row(
        "SELECT jti, run_id, issued_at, expires_at, revoked_at, issued_by FROM run_tokens WHERE jti = ?1",
        [jti],
        |r| {
            Ok(TokenRecord {
                jti: r.get(0)?,
                run_id: RunId::parse(&r.get::<_, String>(1)?).map_err(text_error)?,
                issued_at: parse_ts(&r.get::<_, String>(2)?)?,
                expires_at: parse_ts(&r.get::<_, String>(3)?)?,
                revoked_at: opt_ts(r.get(4)?)?,
                issued_by: r.get(5)?,
            })
        },
    )
    .optional()
}

fn opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>, rusqlite::Error> {
    s.map(|s| parse_ts(&s)).transpose()
}

fn conversion<E: std::error::Error + Send + Sync + 'static>(e: E) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

fn text_error(msg: String) -> rusqlite::Error {
    conversion(std::io::Error::other(msg))
}

const RUN_COLUMNS: &str = "id, job_id, status, profile_ref, source, created_at, started_at, updated_at, \
     finished_at, error, artifacts, attempts, lease_owner, lease_expires_at, cost_usd, processing_tier, \
     queue_id, operation, retry_count, queued_at, dismissed_at, hidden_at, job_title, company, use_llm, force_refresh, elapsed_ms";

/// Inserts one run row.
fn insert_run(tx: &rusqlite::Transaction<'_>, r: &Run) -> Result<(), rusqlite::Error> {
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, \
         ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27)"
    ))?;
    stmt.execute(params![
        r.run_id.to_string(),
        r.job_id.to_string(),
        r.status.as_str(),
        r.profile_ref,
        r.source,
        ts(r.created_at),
        r.started_at.map(ts),
        ts(r.updated_at),
        r.finished_at.map(ts),
        r.error,
        serde_json::to_string(&r.artifacts).map_err(conversion)?,
        r.attempts,
        r.lease_owner,
        r.lease_expires_at.map(ts),
        r.cost_usd,
        r.processing_tier,
        r.queue_id.to_string(),
        r.operation,
        r.retry_count,
        ts(r.queued_at),
        r.dismissed_at.map(ts),
        r.hidden_at.map(ts),
        r.job_title,
        r.company,
        r.options.use_llm,
        r.options.force_refresh,
        r.elapsed_ms as i64,
    ])?;
    Ok(())
}

fn run_from_row(row: &Row<'_>) -> Result<Run, rusqlite::Error> {
    let id: String = row.get(0)?;
    let job: String = row.get(1)?;
    let status: String = row.get(2)?;
    let artifacts: String = row.get(10)?;
    Ok(Run {
        run_id: RunId::parse(&id).map_err(text_error)?,
        job_id: JobId::parse(&job).map_err(text_error)?,
        status: status.parse().map_err(text_error)?,
        profile_ref: row.get(3)?,
        source: row.get(4)?,
        created_at: parse_ts(&row.get::<_, String>(5)?)?,
        started_at: opt_ts(row.get(6)?)?,
        updated_at: parse_ts(&row.get::<_, String>(7)?)?,
        finished_at: opt_ts(row.get(8)?)?,
        error: row.get(9)?,
        artifacts: serde_json::from_str(&artifacts).map_err(conversion)?,
        attempts: row.get(11)?,
        lease_owner: row.get(12)?,
        lease_expires_at: opt_ts(row.get(13)?)?,
        cost_usd: row.get(14)?,
        processing_tier: row.get(15)?,
        queue_id: QueueId::parse(&row.get::<_, String>(16)?).map_err(text_error)?,
        operation: row.get(17)?,
        retry_count: row.get(18)?,
        queued_at: parse_ts(&row.get::<_, String>(19)?)?,
        dismissed_at: opt_ts(row.get(20)?)?,
        hidden_at: opt_ts(row.get(21)?)?,
        job_title: row.get(22)?,
        company: row.get(23)?,
        options: crate::domain::RunOptions {
            use_llm: row.get(24)?,
            force_refresh: row.get(25)?,
        },
        elapsed_ms: row.get::<_, i64>(26)?.max(0) as u64,
    })
}

fn lease_until(lease: Duration) -> String {
    ts(Utc::now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30)))
}

impl SqliteStore {
    /// Opens (creating if needed) `<data_dir>/job-runner.sqlite3` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Unavailable(format!("cannot create data dir {}: {e}", data_dir.display())))?;
        let path = data_dir.join("job-runner.sqlite3");
        let conn = tokio::task::spawn_blocking(move || -> Result<(Connection, Vec<Mutex<Connection>>), StoreError> {
            let wrap = |context| move |source| StoreError::Sqlite { context, source };
            let mut conn = Connection::open(&path).map_err(wrap("open"))?;
            conn.busy_timeout(Duration::from_secs(5))
                .map_err(wrap("busy_timeout"))?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(wrap("journal_mode"))?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(wrap("synchronous"))?;
            migrate(&mut conn).map_err(wrap("migrate"))?;
            let mut readers = Vec::with_capacity(READERS);
            for _ in 0..READERS {
                let reader = Connection::open_with_flags(
                    &path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(wrap("open reader"))?;
                reader
                    .busy_timeout(Duration::from_secs(5))
                    .map_err(wrap("busy_timeout"))?;
                readers.push(Mutex::new(reader));
            }
            Ok((conn, readers))
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store open task failed: {e}")))??;
        let (conn, readers) = conn;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: readers.into(),
            next_reader: Arc::default(),
        })
    }

    /// Runs `f` with the connection on the blocking pool. The only place that touches it.
    /// Reads job `id`'s document, changes it with `change` and writes it back, in one
    /// transaction; `JobNotFound` when there is no such job (never an insert).
    async fn modify_job(
        &self,
        id: &JobId,
        context: &'static str,
        change: impl FnOnce(&mut Map<String, Value>) + Send + 'static,
    ) -> Result<(), StoreError> {
        let key = id.to_string();
        let found = self
            .call(context, move |c| {
                let tx = c.transaction()?;
                let Some(mut doc) = load_doc(&tx, &key)? else {
                    return Ok(false);
                };
                change(&mut doc);
                tx.execute(
                    "UPDATE jobs SET doc = ?2 WHERE id = ?1",
                    params![key, Value::Object(doc).to_string()],
                )?;
                tx.commit()?;
                Ok(true)
            })
            .await?;
        if found {
            Ok(())
        } else {
            Err(StoreError::JobNotFound(id.clone()))
        }
    }

    /// Runs the single-statement read `f` on one of the read-only connections.
    async fn read<R, F>(&self, context: &'static str, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        let readers = Arc::clone(&self.readers);
        let i = self.next_reader.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % readers.len();
        tokio::task::spawn_blocking(move || {
            let guard = readers[i].lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store worker failed during {context}: {e}")))?
        .map_err(|source| StoreError::Sqlite { context, source })
    }

    async fn call<R, F>(&self, context: &'static str, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("store worker failed during {context}: {e}")))?
        .map_err(|source| StoreError::Sqlite { context, source })
    }
}

fn migrate(conn: &mut Connection) -> Result<(), rusqlite::Error> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )?;
    let current: i64 = conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [], |r| {
        r.get(0)
    })?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(text_error(format!(
            "the data folder's store is at schema version {current}, newer than this job-runner knows ({known}): run the newer job-runner, or restore a backup taken before the upgrade"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        if version <= current {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, ts(Utc::now())],
        )?;
        tx.commit()?;
        tracing::info!(version, "applied store migration");
    }
    Ok(())
}

fn load_doc(conn: &Connection, id: &str) -> Result<Option<Map<String, Value>>, rusqlite::Error> {
    let doc: Option<String> = conn
        .query_row("SELECT doc FROM jobs WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    doc.map(|d| serde_json::from_str(&d).map_err(conversion)).transpose()
}

/// Applies a [`JobUpdate`] to a document the way MongoDB's `$set` would.
fn set_fields(doc: &mut Map<String, Value>, fields: Vec<(String, FieldValue)>) {
    for (name, value) in fields {
        let value = match value {
            FieldValue::Text(s) => Value::String(s),
            FieldValue::Time(t) => Value::String(ts(t)),
            FieldValue::Json(v) => v,
        };
        doc.insert(name, value);
    }
}

fn apply_update(doc: &mut Map<String, Value>, u: &JobUpdate) {
    set_fields(doc, u.fields());
    if let Some(runs) = u.merged_runs(doc.get("pipeline_runs")) {
        doc.insert("pipeline_runs".into(), runs);
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn is_shared(&self) -> bool {
        false
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.call("ping", |c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    async fn upsert_job(&self, job: &JobPosting) -> Result<bool, StoreError> {
        let id = job.id.to_string();
        let fresh = job.to_document();
        self.call("upsert_job", move |c| {
            let tx = c.transaction()?;
            let existing = load_doc(&tx, &id)?;
            let is_new = existing.is_none();
            // Re-importing keeps the fields the runner wrote; input fields are replaced.
            let mut doc = existing.unwrap_or_default();
            for (k, v) in fresh {
                doc.insert(k, v);
            }
            tx.execute(
                "INSERT INTO jobs (id, doc, imported_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                params![id, Value::Object(doc).to_string(), ts(Utc::now())],
            )?;
            tx.commit()?;
            Ok(is_new)
        })
        .await
    }

    async fn get_job_document(&self, id: &JobId) -> Result<Option<Map<String, Value>>, StoreError> {
        let id = id.to_string();
        self.read("get_job_document", move |c| load_doc(c, &id)).await
    }

    async fn update_job(&self, id: &JobId, update: &JobUpdate) -> Result<(), StoreError> {
        let update = update.clone();
        self.modify_job(id, "update_job", move |doc| apply_update(doc, &update))
            .await
    }

    async fn insert_runs(&self, runs: &[Run]) -> Result<(), StoreError> {
        let runs = runs.to_vec();
        self.call("insert_runs", move |c| {
            let tx = c.transaction()?;
            for r in &runs {
                insert_run(&tx, r)?;
            }
            tx.commit()
        })
        .await
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        let id = id.to_string();
        self.read("get_run", move |c| {
            c.query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                run_from_row,
            )
            .optional()
        })
        .await
    }

    async fn list_runs(&self, filter: &RunFilter) -> Result<RunPage, StoreError> {
        let status = filter.status.map(|s| s.as_str().to_owned());
        let job = filter.job_id.as_ref().map(|j| j.to_string());
        let (limit, offset) = (filter.limit as i64, filter.offset as i64);
        self.call("list_runs", move |c| {
            let cond = "(?1 IS NULL OR status = ?1) AND (?2 IS NULL OR job_id = ?2)";
            let total: u64 = c.query_row(
                &format!("SELECT COUNT(*) FROM runs WHERE {cond}"),
                params![status, job],
                |r| r.get(0),
            )?;
            let mut stmt = c.prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE {cond} ORDER BY created_at DESC, id DESC LIMIT ?3 OFFSET ?4"
            ))?;
            let runs = stmt
                .query_map(params![status, job, limit, offset], run_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(RunPage { runs, total })
        })
        .await
    }

    async fn count_runs(&self, status: RunStatus) -> Result<u64, StoreError> {
        self.call("count_runs", move |c| {
            c.query_row("SELECT COUNT(*) FROM runs WHERE status = ?1", [status.as_str()], |r| {
                r.get(0)
            })
        })
        .await
    }

    async fn finished_since(&self, since: DateTime<Utc>) -> Result<FinishedCounts, StoreError> {
        self.call("finished_since", move |c| {
            let mut stmt = c.prepare("SELECT status, COUNT(*) FROM runs WHERE finished_at >= ?1 GROUP BY status")?;
            let mut counts = FinishedCounts::default();
            for row in stmt.query_map([ts(since)], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))? {
                let (status, n) = row?;
                match status.as_str() {
                    "completed" => counts.completed = n,
                    "failed" => counts.failed = n,
                    "cancelled" => counts.cancelled = n,
                    _ => {}
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn active_run_for_job(&self, job: &JobId) -> Result<Option<Run>, StoreError> {
        let job = job.to_string();
        self.call("active_run_for_job", move |c| {
            c.query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE job_id = ?1 AND status IN ('queued', 'running')
                     ORDER BY created_at LIMIT 1"
                ),
                [job],
                run_from_row,
            )
            .optional()
        })
        .await
    }

    async fn claim_next_run(&self, owner: &str, lease: Duration) -> Result<Option<Run>, StoreError> {
        let owner = owner.to_owned();
        self.call("claim_next_run", move |c| {
            let now = ts(Utc::now());
            c.query_row(
                &format!(
                    "UPDATE runs SET status = 'running', lease_owner = ?1, lease_expires_at = ?2,
                        attempts = attempts + 1, started_at = COALESCE(started_at, ?3), updated_at = ?3
                     WHERE id = (SELECT id FROM runs WHERE status = 'queued' ORDER BY queued_at, id LIMIT 1)
                       AND status = 'queued'
                     RETURNING {RUN_COLUMNS}"
                ),
                params![owner, lease_until(lease), now],
                run_from_row,
            )
            .optional()
        })
        .await
    }

    async fn renew_lease(
        &self,
        id: &RunId,
        owner: &str,
        lease: Duration,
        ran: Duration,
    ) -> Result<LeaseState, StoreError> {
        let (id, owner) = (id.to_string(), owner.to_owned());
        self.call("renew_lease", move |c| {
            let cancel: Option<bool> = c
                .query_row(
                    "UPDATE runs SET lease_expires_at = ?3, elapsed_ms = elapsed_ms + ?4
                     WHERE id = ?1 AND status = 'running' AND lease_owner = ?2
                     RETURNING cancel_requested",
                    params![id, owner, lease_until(lease), ran.as_millis() as i64],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(match cancel {
                None => LeaseState::Lost,
                Some(true) => LeaseState::CancelRequested,
                Some(false) => LeaseState::Held,
            })
        })
        .await
    }

    async fn request_cancel(&self, id: &RunId) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.call("request_cancel", move |c| {
            let n = c.execute(
                "UPDATE runs SET cancel_requested = 1 WHERE id = ?1 AND status = 'running'",
                [id],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn finish_run(&self, id: &RunId, owner: &str, finish: &RunFinish) -> Result<bool, StoreError> {
        let (id, owner, finish) = (id.to_string(), owner.to_owned(), finish.clone());
        self.call("finish_run", move |c| {
            let n = c.execute(
                "UPDATE runs SET status = ?3, error = ?4, artifacts = ?5, finished_at = ?6, updated_at = ?6,
                    lease_owner = NULL, lease_expires_at = NULL, cost_usd = ?7
                 WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
                params![
                    id,
                    owner,
                    finish.status.as_str(),
                    finish.error,
                    serde_json::to_string(&finish.artifacts).map_err(conversion)?,
                    ts(finish.at),
                    finish.cost_usd
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn cancel_queued_run(&self, id: &RunId, reason: &str) -> Result<bool, StoreError> {
        let (id, reason) = (id.to_string(), reason.to_owned());
        self.call("cancel_queued_run", move |c| {
            let now = ts(Utc::now());
            let n = c.execute(
                "UPDATE runs SET status = 'cancelled', error = ?2, finished_at = ?3, updated_at = ?3
                 WHERE id = ?1 AND status = 'queued'",
                params![id, reason, now],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn requeue_run(&self, id: &RunId, owner: &str) -> Result<bool, StoreError> {
        let (id, owner) = (id.to_string(), owner.to_owned());
        self.call("requeue_run", move |c| {
            let n = c.execute(
                "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, updated_at = ?3
                 WHERE id = ?1 AND status = 'running' AND lease_owner = ?2",
                params![id, owner, ts(Utc::now())],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn recover_runs(&self, now: DateTime<Utc>, sole_instance: bool) -> Result<Vec<RunId>, StoreError> {
        self.call("recover_runs", move |c| {
            let mut stmt = c.prepare(
                "UPDATE runs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL, updated_at = ?1
                 WHERE status = 'running' AND (?2 OR lease_expires_at IS NULL OR lease_expires_at < ?1)
                 RETURNING id",
            )?;
            let ids = stmt
                .query_map(params![ts(now), sole_instance], |r| r.get::<_, String>(0))?
                .map(|r| r.and_then(|s| RunId::parse(&s).map_err(text_error)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids)
        })
        .await
    }

    async fn queue_view(&self, query: &QueueQuery) -> Result<QueueView, StoreError> {
        let q = *query;
        self.call("queue_view", move |c| {
            let list = |cond: &str, order: &str, limit: usize| -> Result<Vec<Run>, rusqlite::Error> {
                let mut stmt = c.prepare(&format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE {cond} ORDER BY {order} LIMIT ?1"
                ))?;
                let runs = stmt.query_map([limit as i64], run_from_row)?.collect();
                runs
            };
            let count = |cond: &str| -> Result<u64, rusqlite::Error> {
                c.query_row(&format!("SELECT COUNT(*) FROM runs WHERE {cond}"), [], |r| r.get(0))
            };
            const PENDING: &str = "status = 'queued'";
            const RUNNING: &str = "status = 'running'";
            const FAILED: &str = "status = 'failed' AND dismissed_at IS NULL AND hidden_at IS NULL";
            const HISTORY: &str = "hidden_at IS NULL AND (status IN ('completed', 'cancelled') \
                 OR (status = 'failed' AND dismissed_at IS NOT NULL))";
            Ok(QueueView {
                pending: list(PENDING, "queued_at, id", q.pending)?,
                running: list(RUNNING, "started_at, id", q.running)?,
                failed: list(FAILED, "finished_at DESC, id DESC", q.failed)?,
                history: list(HISTORY, "finished_at DESC, id DESC", q.history)?,
                total_pending: count(PENDING)?,
                total_running: count(RUNNING)?,
                total_failed: count(FAILED)?,
            })
        })
        .await
    }

    async fn queued_ahead(&self, run: &Run) -> Result<u64, StoreError> {
        let (at, id) = (ts(run.queued_at), run.run_id.to_string());
        self.call("queued_ahead", move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM runs WHERE status = 'queued' AND (queued_at < ?1 OR (queued_at = ?1 AND id < ?2))",
                params![at, id],
                |r| r.get(0),
            )
        })
        .await
    }

    async fn run_by_queue_id(&self, id: &QueueId) -> Result<Option<Run>, StoreError> {
        let id = id.to_string();
        self.call("run_by_queue_id", move |c| {
            c.query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE queue_id = ?1"),
                [id],
                run_from_row,
            )
            .optional()
        })
        .await
    }

    async fn retry_failed_run(
        &self,
        failed: &RunId,
        retry: &Run,
        retired_queue_id: &QueueId,
        at: DateTime<Utc>,
    ) -> Result<Option<Run>, StoreError> {
        let (old, new, retired) = (failed.to_string(), retry.clone(), retired_queue_id.to_string());
        let inserted = self
            .call("retry_failed_run", move |c| {
                let tx = c.transaction()?;
                let claimed = tx.execute(
                    "UPDATE runs SET retried_by = ?2, queue_id = ?3, hidden_at = ?4, updated_at = ?4
                 WHERE id = ?1 AND status = 'failed' AND retried_by IS NULL
                   AND NOT EXISTS (SELECT 1 FROM runs AS other WHERE other.job_id = runs.job_id
                                   AND other.status IN ('queued', 'running'))",
                    params![old, new.run_id.to_string(), retired, ts(at)],
                )?;
                if claimed == 0 {
                    return Ok(None);
                }
                insert_run(&tx, &new)?;
                tx.execute(
                    "INSERT INTO stages (run_id, stage, status, started_at, finished_at, duration_ms, attempts,
                                     producer, output, error, model, source_run)
                 SELECT ?1, stage, 'completed', started_at, finished_at, 0, 0, 'reused', output, NULL, model,
                        CASE WHEN producer = 'reused' AND source_run IS NOT NULL THEN source_run ELSE ?2 END
                 FROM stages WHERE run_id = ?2 AND status = 'completed' AND stage != 'publisher'",
                    params![new.run_id.to_string(), old],
                )?;
                tx.commit()?;
                Ok(Some(new.run_id))
            })
            .await?;
        // As stored (timestamps at the store's precision).
        match inserted {
            Some(id) => self.get_run(&id).await,
            None => Ok(None),
        }
    }

    async fn purge_finished_runs(
        &self,
        finished_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<RunId>, StoreError> {
        self.call("purge_finished_runs", move |c| {
            let tx = c.transaction()?;
            let ids: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM runs WHERE status IN ('completed', 'failed', 'cancelled')
                       AND finished_at IS NOT NULL AND finished_at < ?1
                     ORDER BY finished_at LIMIT ?2",
                )?;
                let rows = stmt.query_map(params![ts(finished_before), limit as i64], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            for id in &ids {
                for sql in [
                    "DELETE FROM run_logs WHERE run_id = ?1",
                    "DELETE FROM stages WHERE run_id = ?1",
                    "DELETE FROM llm_calls WHERE run_id = ?1",
                    "DELETE FROM run_tokens WHERE run_id = ?1",
                    "DELETE FROM webhook_deliveries WHERE run_id = ?1",
                    "DELETE FROM runs WHERE id = ?1",
                ] {
                    tx.execute(sql, [id])?;
                }
            }
            tx.commit()?;
            ids.iter().map(|i| RunId::parse(i).map_err(text_error)).collect()
        })
        .await
    }

    async fn heartbeat(&self, beat: &RunnerBeat) -> Result<(), StoreError> {
        let b = beat.clone();
        self.call("heartbeat", move |c| {
            c.execute(
                "INSERT INTO runners (id, host, version, started_at, last_seen, active_runs, draining)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT(id) DO UPDATE SET host = excluded.host, version = excluded.version,
                   started_at = excluded.started_at, last_seen = excluded.last_seen,
                   active_runs = excluded.active_runs, draining = excluded.draining",
                params![
                    b.runner_id,
                    b.host,
                    b.version,
                    ts(b.started_at),
                    ts(b.last_seen),
                    b.active_runs,
                    b.draining
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn runners(&self) -> Result<Vec<RunnerBeat>, StoreError> {
        self.call("runners", |c| {
            let mut stmt = c.prepare(
                "SELECT id, host, version, started_at, last_seen, active_runs, draining FROM runners
                 ORDER BY last_seen DESC",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(RunnerBeat {
                    runner_id: r.get(0)?,
                    host: r.get(1)?,
                    version: r.get(2)?,
                    started_at: parse_ts(&r.get::<_, String>(3)?)?,
                    last_seen: parse_ts(&r.get::<_, String>(4)?)?,
                    active_runs: r.get(5)?,
                    draining: r.get(6)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn dismiss_failed_run(&self, id: &RunId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.call("dismiss_failed_run", move |c| {
            let n = c.execute(
                "UPDATE runs SET dismissed_at = ?2
                 WHERE id = ?1 AND status = 'failed' AND dismissed_at IS NULL AND hidden_at IS NULL",
                params![id, ts(at)],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn hide_finished_runs(
        &self,
        finished_before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<FinishedCounts, StoreError> {
        self.call("hide_finished_runs", move |c| {
            let mut stmt = c.prepare(
                "UPDATE runs SET hidden_at = ?2
                 WHERE status IN ('completed', 'failed', 'cancelled') AND hidden_at IS NULL AND finished_at < ?1
                 RETURNING status",
            )?;
            let mut counts = FinishedCounts::default();
            for status in stmt.query_map(params![ts(finished_before), ts(at)], |r| r.get::<_, String>(0))? {
                match status?.as_str() {
                    "completed" => counts.completed += 1,
                    "failed" => counts.failed += 1,
                    _ => counts.cancelled += 1,
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn stage_started(&self, run: &RunId, stage: StageName, at: DateTime<Utc>) -> Result<(), StoreError> {
        let run = run.to_string();
        self.call("stage_started", move |c| {
            c.execute(
                "INSERT INTO stages (run_id, stage, status, started_at, attempts) VALUES (?1, ?2, 'running', ?3, 1)
                 ON CONFLICT(run_id, stage) DO UPDATE SET status = 'running', started_at = ?3,
                    finished_at = NULL, error = NULL, attempts = attempts + 1",
                params![run, stage.as_str(), ts(at)],
            )?;
            Ok(())
        })
        .await
    }

    async fn stage_completed(
        &self,
        run: &RunId,
        stage: StageName,
        produced: &Provenance,
        output: &Value,
        finished_at: DateTime<Utc>,
        duration: Duration,
    ) -> Result<(), StoreError> {
        let run = run.to_string();
        let output = output.to_string();
        let producer = produced.producer.as_str();
        let model = produced.model.clone();
        let source = produced.source_run.as_ref().map(|r| r.to_string());
        self.call("stage_completed", move |c| {
            c.execute(
                "INSERT INTO stages (run_id, stage, status, started_at, finished_at, duration_ms, attempts, producer, output, model, source_run)
                 VALUES (?1, ?2, 'completed', ?3, ?3, ?4, 1, ?5, ?6, ?7, ?8)
                 ON CONFLICT(run_id, stage) DO UPDATE SET status = 'completed', finished_at = ?3,
                    duration_ms = ?4, producer = ?5, output = ?6, error = NULL, model = ?7, source_run = ?8",
                params![run, stage.as_str(), ts(finished_at), duration.as_millis() as i64, producer, output, model, source],
            )?;
            Ok(())
        })
        .await
    }

    async fn stage_failed(
        &self,
        run: &RunId,
        stage: StageName,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (run, error) = (run.to_string(), error.to_owned());
        self.call("stage_failed", move |c| {
            c.execute(
                "INSERT INTO stages (run_id, stage, status, finished_at, attempts, error) VALUES (?1, ?2, 'failed', ?3, 1, ?4)
                 ON CONFLICT(run_id, stage) DO UPDATE SET status = 'failed', finished_at = ?3, error = ?4",
                params![run, stage.as_str(), ts(at), error],
            )?;
            Ok(())
        })
        .await
    }

    async fn latest_stage_output(
        &self,
        job: &JobId,
        stage: StageName,
        except: &RunId,
    ) -> Result<Option<(RunId, StageRecord)>, StoreError> {
        let (job, except) = (job.to_string(), except.to_string());
        self.call("latest_stage_output", move |c| {
            c.query_row(
                &format!(
                    "SELECT {STAGE_COLUMNS}, s.run_id FROM stages AS s JOIN runs AS r ON r.id = s.run_id
                     WHERE r.job_id = ?1 AND s.stage = ?2 AND s.status = 'completed' AND s.run_id != ?3
                       AND s.output IS NOT NULL
                     ORDER BY s.finished_at DESC LIMIT 1"
                ),
                params![job, stage.as_str(), except],
                |r| {
                    let record = stage_from_row(r)?;
                    let run = RunId::parse(&r.get::<_, String>(11)?).map_err(text_error)?;
                    Ok((run, record))
                },
            )
            .optional()
        })
        .await
    }

    async fn load_stages(&self, run: &RunId) -> Result<Vec<StageRecord>, StoreError> {
        let run = run.to_string();
        self.read("load_stages", move |c| {
            let mut stmt = c.prepare(&format!("SELECT {STAGE_COLUMNS} FROM stages AS s WHERE run_id = ?1"))?;
            let mut records = stmt.query_map([run], stage_from_row)?.collect::<Result<Vec<_>, _>>()?;
            records.sort_by_key(|r| r.stage);
            Ok(records)
        })
        .await
    }

    async fn append_logs(&self, lines: &[LogLine]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        let lines = lines.to_vec();
        self.call("append_logs", move |c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO run_logs (run_id, seq, ts, level, stage, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for l in &lines {
                    stmt.execute(params![
                        l.run_id.to_string(),
                        l.seq as i64,
                        ts(l.ts),
                        l.level.as_str(),
                        l.stage.map(StageName::as_str),
                        l.message
                    ])?;
                }
            }
            tx.commit()
        })
        .await
    }

    async fn read_logs(&self, run: &RunId, after: u64, limit: usize) -> Result<Vec<LogLine>, StoreError> {
        let run_id = run.clone();
        self.read("read_logs", move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT seq, ts, level, stage, message FROM run_logs WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let lines = stmt
                .query_map(params![run_id.to_string(), after as i64, limit as i64], |r| {
                    Ok(LogLine {
                        run_id: run_id.clone(),
                        seq: r.get::<_, i64>(0)? as u64,
                        ts: parse_ts(&r.get::<_, String>(1)?)?,
                        level: LogLevel::parse(&r.get::<_, String>(2)?).unwrap_or(LogLevel::Info),
                        stage: r.get::<_, Option<String>>(3)?.and_then(|s| s.parse().ok()),
                        message: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(lines)
        })
        .await
    }

    async fn last_log_seq(&self, run: &RunId) -> Result<u64, StoreError> {
        let run = run.to_string();
        self.read("last_log_seq", move |c| {
            c.query_row(
                "SELECT COALESCE(MAX(seq), 0) FROM run_logs WHERE run_id = ?1",
                [run],
                |r| r.get::<_, i64>(0),
            )
            .map(|v| v as u64)
        })
        .await
    }

    async fn record_llm_call(&self, call: &LlmCall) -> Result<(), StoreError> {
        let call = call.clone();
        self.call("record_llm_call", move |c| {
            c.execute(
                &format!("INSERT INTO llm_calls ({LLM_CALL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"),
                params![
                    call.run_id.to_string(),
                    call.stage.as_str(),
                    call.provider,
                    call.model,
                    call.input_tokens as i64,
                    call.output_tokens as i64,
                    call.cost_usd,
                    call.latency_ms as i64,
                    call.outcome.as_str(),
                    ts(call.at),
                    call.prompt,
                    call.turn,
                    call.detail
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn llm_calls(&self, run: &RunId) -> Result<Vec<LlmCall>, StoreError> {
        let run_id = run.to_string();
        self.read("llm_calls", move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {LLM_CALL_COLUMNS} FROM llm_calls WHERE run_id = ?1 ORDER BY id"
            ))?;
            let calls = stmt
                .query_map([run_id], llm_call_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(calls)
        })
        .await
    }

    async fn llm_calls_since(&self, since: DateTime<Utc>) -> Result<Vec<LlmCall>, StoreError> {
        self.call("llm_calls_since", move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {LLM_CALL_COLUMNS} FROM llm_calls WHERE at >= ?1 ORDER BY at, id"
            ))?;
            let calls = stmt
                .query_map([ts(since)], llm_call_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(calls)
        })
        .await
    }

    async fn cache_get(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Value>, StoreError> {
        let key = key.to_owned();
        self.call("cache_get", move |c| {
            let text: Option<String> = c
                .query_row(
                    "SELECT value FROM research_cache WHERE key = ?1 AND expires_at > ?2",
                    params![key, ts(now)],
                    |r| r.get(0),
                )
                .optional()?;
            text.map(|t| serde_json::from_str(&t).map_err(conversion)).transpose()
        })
        .await
    }

    async fn cache_put(&self, key: &str, value: &Value, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        let (key, value) = (key.to_owned(), value.to_string());
        self.call("cache_put", move |c| {
            c.execute("DELETE FROM research_cache WHERE expires_at <= ?1", [ts(Utc::now())])?;
            c.execute(
                "INSERT INTO research_cache (key, value, expires_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                params![key, value, ts(expires_at)],
            )?;
            Ok(())
        })
        .await
    }

    async fn record_alert(&self, alert: &AlertRecord) -> Result<(), StoreError> {
        let a = alert.clone();
        self.call("record_alert", move |c| {
            c.execute(
                "INSERT OR REPLACE INTO alerts (id, at, level, source, message, metadata) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![a.alert_id, ts(a.timestamp), a.level, a.source, a.message, a.metadata.to_string()],
            )?;
            Ok(())
        })
        .await
    }

    async fn recent_alerts(&self, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        self.call("recent_alerts", move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, at, level, source, message, metadata FROM alerts ORDER BY at DESC, id DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map([limit as i64], |r| {
                    Ok(AlertRecord {
                        alert_id: r.get(0)?,
                        timestamp: parse_ts(&r.get::<_, String>(1)?)?,
                        level: r.get(2)?,
                        source: r.get(3)?,
                        message: r.get(4)?,
                        metadata: serde_json::from_str(&r.get::<_, String>(5)?).map_err(conversion)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn record_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StoreError> {
        let tokens = tokens.to_vec();
        self.call("record_tokens", move |c| {
            let tx = c.transaction()?;
            for t in &tokens {
                tx.execute(
                    "INSERT INTO run_tokens (jti, run_id, issued_at, expires_at, revoked_at, issued_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        t.jti,
                        t.run_id.as_ref(),
                        ts(t.issued_at),
                        ts(t.expires_at),
                        t.revoked_at.map(ts),
                        t.issued_by
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn get_token(&self, jti: &str) -> Result<Option<TokenRecord>, StoreError> {
        let jti = jti.to_owned();
        self.read("get_token", move |c| read_token(c, &jti)).await
    }

    async fn revoke_token(&self, jti: &str, at: DateTime<Utc>) -> Result<Option<TokenRecord>, StoreError> {
        let jti = jti.to_owned();
        self.call("revoke_token", move |c| {
            c.execute(
                "UPDATE run_tokens SET revoked_at = ?2 WHERE jti = ?1 AND revoked_at IS NULL",
                params![jti, ts(at)],
            )?;
            read_token(c, &jti)
        })
        .await
    }

    async fn purge_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.call("purge_expired_tokens", move |c| {
            let now = ts(now);
            let tokens = c.execute("DELETE FROM run_tokens WHERE expires_at < ?1", [&now])?;
            let sessions = c.execute("DELETE FROM revoked_sessions WHERE expires_at < ?1", [&now])?;
            Ok((tokens + sessions) as u64)
        })
        .await
    }

    async fn revoke_session(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        let jti = jti.to_owned();
        self.call("revoke_session", move |c| {
            c.execute(
                "INSERT OR IGNORE INTO revoked_sessions (jti, expires_at, revoked_at) VALUES (?1, ?2, ?3)",
                params![jti, ts(expires_at), ts(Utc::now())],
            )?;
            Ok(())
        })
        .await
    }

    async fn session_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        let jti = jti.to_owned();
        self.read("session_revoked", move |c| {
            c.prepare_cached("SELECT 1 FROM revoked_sessions WHERE jti = ?1")?
                .exists([jti])
        })
        .await
    }

    async fn search_jobs(&self, text: &str, limit: usize) -> Result<Vec<JobSummary>, StoreError> {
        let text = text.trim().to_owned();
        self.read("search_jobs", move |c| {
            // SQLite's lower() folds ASCII only; both sides fold the same way.
            let mut stmt = c.prepare_cached(
                "SELECT doc FROM jobs
                 WHERE ?1 = ''
                    OR instr(lower(coalesce(json_extract(doc, '$.company'), '')), lower(?1)) > 0
                    OR instr(lower(coalesce(json_extract(doc, '$.title'), '')), lower(?1)) > 0
                 ORDER BY imported_at DESC, id DESC LIMIT ?2",
            )?;
            let docs = stmt.query_map(params![text, limit as i64], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for doc in docs {
                let doc: Map<String, Value> = serde_json::from_str(&doc?).map_err(conversion)?;
                out.extend(JobSummary::from_document(&doc));
            }
            Ok(out)
        })
        .await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let e = entry.clone();
        self.call("append_audit", move |c| {
            c.prepare_cached(
                "INSERT INTO audit (at, request_id, actor, client, method, path, route, status, outcome, code)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                ts(e.at),
                e.request_id,
                e.actor,
                e.client,
                e.method,
                e.path,
                e.route,
                e.status,
                e.outcome,
                e.code
            ])?;
            Ok(())
        })
        .await
    }

    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.call("recent_audit", move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT at, request_id, actor, client, method, path, route, status, outcome, code
                 FROM audit ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map([limit as i64], |r| {
                    Ok(AuditEntry {
                        at: parse_ts(&r.get::<_, String>(0)?)?,
                        request_id: r.get(1)?,
                        actor: r.get(2)?,
                        client: r.get(3)?,
                        method: r.get(4)?,
                        path: r.get(5)?,
                        route: r.get(6)?,
                        status: r.get(7)?,
                        outcome: r.get(8)?,
                        code: r.get(9)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn purge_audit(&self, before: DateTime<Utc>, keep: usize) -> Result<u64, StoreError> {
        self.call("purge_audit", move |c| {
            let old = c.execute("DELETE FROM audit WHERE at < ?1", [ts(before)])?;
            let over = c.execute(
                "DELETE FROM audit WHERE id <= (SELECT id FROM audit ORDER BY id DESC LIMIT 1 OFFSET ?1)",
                [keep as i64],
            )?;
            Ok((old + over) as u64)
        })
        .await
    }

    async fn set_job_fields(&self, id: &JobId, fields: &[(String, FieldValue)]) -> Result<(), StoreError> {
        let fields = fields.to_vec();
        self.modify_job(id, "set_job_fields", move |doc| set_fields(doc, fields))
            .await
    }

    async fn record_delivery(&self, d: &WebhookDelivery) -> Result<(), StoreError> {
        let d = d.clone();
        self.call("record_delivery", move |c| {
            c.execute(
                "INSERT OR REPLACE INTO webhook_deliveries
                 (run_id, delivery_id, attempt, at, status, error, duration_ms, delivered, target)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    d.run_id.as_ref(),
                    d.delivery_id,
                    d.attempt,
                    ts(d.at),
                    d.status,
                    d.error,
                    d.duration_ms as i64,
                    d.delivered,
                    d.target
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn deliveries(&self, run: &RunId) -> Result<Vec<WebhookDelivery>, StoreError> {
        let run = run.clone();
        self.call("deliveries", move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT delivery_id, attempt, at, status, error, duration_ms, delivered, target
                 FROM webhook_deliveries WHERE run_id = ?1 ORDER BY at, attempt",
            )?;
            let rows = stmt
                .query_map([run.as_ref()], |r| {
                    Ok(WebhookDelivery {
                        run_id: run.clone(),
                        delivery_id: r.get(0)?,
                        attempt: r.get(1)?,
                        at: parse_ts(&r.get::<_, String>(2)?)?,
                        status: r.get(3)?,
                        error: r.get(4)?,
                        duration_ms: r.get::<_, i64>(5)? as u64,
                        delivered: r.get(6)?,
                        target: r.get(7)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    async fn purge_job(&self, job: &JobId, with_job: bool) -> Result<JobPurge, StoreError> {
        let job = job.to_string();
        self.call("purge_job", move |c| {
            let tx = c.transaction()?;
            let active: i64 = tx.query_row(
                "SELECT COUNT(*) FROM runs WHERE job_id = ?1 AND status IN ('queued', 'running')",
                [&job],
                |r| r.get(0),
            )?;
            if active > 0 {
                return Ok(Err(StoreError::Conflict(format!(
                    "job {job} has a queued or running run; cancel it first"
                ))));
            }
            let ids: Vec<String> = {
                let mut stmt = tx.prepare("SELECT id FROM runs WHERE job_id = ?1 ORDER BY created_at")?;
                let rows = stmt.query_map([&job], |r| r.get(0))?;
                rows.collect::<Result<_, _>>()?
            };
            let mut out = JobPurge::default();
            for id in &ids {
                out.log_lines += tx.execute("DELETE FROM run_logs WHERE run_id = ?1", [id])? as u64;
                out.stages += tx.execute("DELETE FROM stages WHERE run_id = ?1", [id])? as u64;
                out.llm_calls += tx.execute("DELETE FROM llm_calls WHERE run_id = ?1", [id])? as u64;
                out.tokens += tx.execute("DELETE FROM run_tokens WHERE run_id = ?1", [id])? as u64;
                tx.execute("DELETE FROM webhook_deliveries WHERE run_id = ?1", [id])?;
                tx.execute("DELETE FROM runs WHERE id = ?1", [id])?;
            }
            if with_job {
                out.job_document = tx.execute("DELETE FROM jobs WHERE id = ?1", [&job])? > 0;
            }
            tx.commit()?;
            out.runs = ids
                .iter()
                .map(|i| RunId::parse(i).map_err(text_error))
                .collect::<Result<_, _>>()?;
            Ok(Ok(out))
        })
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written before runs were queue items (schema 6) keeps its runs: each
    /// gets a queue id derived from its run id and its creation time as its queue time.
    #[test]
    fn runs_stored_before_queue_items_become_queue_items() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
            .unwrap();
        for (i, sql) in MIGRATIONS.iter().take(6).enumerate() {
            conn.execute_batch(sql).unwrap();
            conn.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, 'then')",
                [i as i64 + 1],
            )
            .unwrap();
        }
        let created = "2026-01-02T03:04:05.000000Z";
        conn.execute(
            "INSERT INTO runs (id, job_id, status, created_at, updated_at, finished_at, error)
             VALUES ('0123456789abcdef0123456789abcdef', '65a1b2c3d4e5f60718293a4b', 'failed', ?1, ?1, ?1, 'boom')",
            [created],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let run = conn
            .query_row(&format!("SELECT {RUN_COLUMNS} FROM runs"), [], run_from_row)
            .unwrap();
        assert_eq!(run.queue_id.as_ref(), "q_0123456789ab");
        assert_eq!(run.operation, "batch-pipeline");
        assert_eq!((run.retry_count, run.queued_at), (0, run.created_at));
        assert_eq!(run.error.as_deref(), Some("boom"), "nothing else changes");
    }
}
