//! The MongoDB backend (production): the dashboard's job documents in `jobs.level-2` and
//! the runner's own collections (`runner_runs`, `runner_run_logs`, `runner_stages`,
//! `runner_llm_calls`, `runner_research_cache`) in the same database, so several runners can
//! share one database. Claims are atomic `findOneAndUpdate`s with a lease; lease expiry
//! and queue order are integer epoch milliseconds so comparisons are plain numbers;
//! human-facing timestamps are BSON dates.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use mongodb::bson::{self, doc, oid::ObjectId, Bson, Document};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, IndexModel};
use serde_json::{Map, Value};

use super::{
    AlertRecord, AuditEntry, CallOutcome, FieldValue, FinishedCounts, JobPurge, JobUpdate, LeaseState, LlmCall,
    LogLine, QueueQuery, QueueView, RunFilter, RunFinish, RunPage, RunnerBeat, Store, StoreError, StoredArtifact,
    TokenRecord, WebhookDelivery,
};
use crate::domain::outputs::Provenance;
use crate::domain::{
    JobId, JobPosting, Operation, QueueId, Run, RunId, RunStatus, StageName, StageProducer, StageRecord, StageStatus,
};
use crate::runlog::LogLevel;
use crate::store::JobSummary;

/// The schema of the runner's collections this binary writes. Bump it with every change of
/// their shape; bump [`SCHEMA_READABLE_FROM`] too when older binaries can no longer work
/// with what this one writes (additive fields do not need that: old binaries ignore them).
pub const SCHEMA_VERSION: u32 = 2;
/// The oldest schema version a binary must understand to share the store with this one.
pub const SCHEMA_READABLE_FROM: u32 = 1;

/// Bytes per artifact chunk (GridFS's default).
const ARTIFACT_CHUNK: usize = 255 * 1024;

/// Where the backend keeps things.
#[derive(Debug, Clone)]
pub struct MongoConfig {
    /// Database holding the jobs and the runner's collections (`MONGODB_DB`).
    pub database: String,
    /// The dashboard's job collection (`MONGODB_JOBS_COLLECTION`).
    pub jobs_collection: String,
    /// Prefix of the runner's own collections (`MONGODB_COLLECTION_PREFIX`).
    pub prefix: String,
    /// How long to wait for a reachable server before failing a call.
    pub server_selection_timeout: Duration,
}

/// The MongoDB-backed store.
#[derive(Clone)]
pub struct MongoStore {
    client: Client,
    jobs: Collection<Document>,
    runs: Collection<Document>,
    logs: Collection<Document>,
    stages: Collection<Document>,
    llm_calls: Collection<Document>,
    cache: Collection<Document>,
    alerts: Collection<Document>,
    /// `<prefix>meta`: the schema version document.
    meta: Collection<Document>,
    /// `<prefix>slots`: `GLOBAL_MAX_CONCURRENCY` slot documents (`_id` 0..cap), each free
    /// (`holder: ""`) or held by a run until its lease ends.
    slots: Collection<Document>,
    /// Slots known to exist (created on the first claim with a cap).
    slots_made: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// `<prefix>runners`: one heartbeat document per runner.
    runners: Collection<Document>,
    /// `<prefix>artifacts_files` / `<prefix>artifacts_chunks`: finished runs' files, in
    /// GridFS's document layout (see `put_artifact`).
    artifact_files: Collection<Document>,
    artifact_chunks: Collection<Document>,
    /// `<prefix>run_tokens`: issued run tokens until they expire (revocation).
    tokens: Collection<Document>,
    /// `<prefix>audit`: the audit trail of state-changing requests.
    audit: Collection<Document>,
    /// `<prefix>webhook_deliveries`: completion webhook attempts.
    deliveries: Collection<Document>,
    /// `<prefix>revoked_sessions`: console sessions ended by logout, until they expire.
    revoked_sessions: Collection<Document>,
}

/// Errors worth retrying: no reachable server, broken connections, retryable writes.
pub fn is_transient(e: &mongodb::error::Error) -> bool {
    use mongodb::error::ErrorKind;
    e.contains_label(mongodb::error::RETRYABLE_WRITE_ERROR)
        || e.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR)
        || matches!(
            *e.kind,
            ErrorKind::ServerSelection { .. } | ErrorKind::ConnectionPoolCleared { .. } | ErrorKind::Io(_)
        )
}

fn wrap(context: &'static str) -> impl Fn(mongodb::error::Error) -> StoreError {
    move |e| StoreError::Mongo {
        context,
        source: Box::new(e),
    }
}

fn date(t: DateTime<Utc>) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(t.timestamp_millis()))
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn lease_until(lease: Duration) -> i64 {
    millis(Utc::now()) + lease.as_millis() as i64
}

fn oid(id: &JobId) -> Result<ObjectId, StoreError> {
    ObjectId::parse_str(id.as_ref()).map_err(|e| StoreError::Corrupt(format!("job id {id} is not an ObjectId: {e}")))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn get_int(d: &Document, key: &str) -> i64 {
    match d.get(key) {
        Some(Bson::Int32(v)) => *v as i64,
        Some(Bson::Int64(v)) => *v,
        Some(Bson::Double(v)) => *v as i64,
        _ => 0,
    }
}

fn get_str(d: &Document, key: &str) -> Option<String> {
    match d.get(key) {
        Some(Bson::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Reads a timestamp written as a BSON date. Documents edited by other tools (or servers
/// that store dates as text) may hold an RFC 3339 or `YYYY-MM-DD HH:MM:SS.f` UTC string,
/// which is accepted too.
fn get_time(d: &Document, key: &str) -> Option<DateTime<Utc>> {
    match d.get(key) {
        Some(Bson::DateTime(t)) => DateTime::<Utc>::from_timestamp_millis(t.timestamp_millis()),
        Some(Bson::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                    .ok()
                    .map(|n| n.and_utc())
            }),
        _ => None,
    }
}

/// Reads a flag written as a boolean (a non-zero number also counts as true).
fn get_flag(d: &Document, key: &str) -> bool {
    match d.get(key) {
        Some(Bson::Boolean(b)) => *b,
        Some(Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)) => get_int(d, key) != 0,
        _ => false,
    }
}

fn json_to_bson(v: &Value) -> Result<Bson, StoreError> {
    bson::to_bson(v).map_err(|e| StoreError::Corrupt(format!("cannot encode value: {e}")))
}

fn bson_to_json(b: Bson) -> Value {
    b.into_relaxed_extjson()
}

fn run_to_doc(r: &Run) -> Result<Document, StoreError> {
    let mut d = doc! {
        "_id": r.run_id.to_string(),
        "job_id": r.job_id.to_string(),
        "status": r.status.as_str(),
        "created_at": date(r.created_at),
        "created_ms": millis(r.created_at),
        "updated_at": date(r.updated_at),
        "artifacts": bson::to_document(&r.artifacts).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        "attempts": r.attempts as i64,
        "cancel_requested": false,
        "queue_id": r.queue_id.to_string(),
        "operation": &r.operation,
        "retry_count": r.retry_count as i64,
        "queued_at": date(r.queued_at),
        "queued_ms": millis(r.queued_at),
        "use_llm": r.options.use_llm,
        "force_refresh": r.options.force_refresh,
        "elapsed_ms": r.elapsed_ms as i64,
    };
    let mut opt = |k: &str, v: Option<Bson>| {
        if let Some(v) = v {
            d.insert(k, v);
        }
    };
    opt("profile_ref", r.profile_ref.clone().map(Bson::String));
    opt("source", r.source.clone().map(Bson::String));
    opt("started_at", r.started_at.map(date));
    opt("finished_at", r.finished_at.map(date));
    opt("error", r.error.clone().map(Bson::String));
    opt("lease_owner", r.lease_owner.clone().map(Bson::String));
    opt("lease_expires_ms", r.lease_expires_at.map(|t| Bson::Int64(millis(t))));
    opt("processing_tier", r.processing_tier.clone().map(Bson::String));
    opt("dismissed_at", r.dismissed_at.map(date));
    opt("hidden_at", r.hidden_at.map(date));
    opt("job_title", r.job_title.clone().map(Bson::String));
    opt("company", r.company.clone().map(Bson::String));
    Ok(d)
}

fn run_from_doc(d: &Document) -> Result<Run, StoreError> {
    let id = get_str(d, "_id").ok_or_else(|| corrupt("run without _id"))?;
    let job = get_str(d, "job_id").ok_or_else(|| corrupt("run without job_id"))?;
    let status = get_str(d, "status").ok_or_else(|| corrupt("run without status"))?;
    let artifacts: BTreeMap<String, String> = match d.get("artifacts") {
        Some(Bson::Document(a)) => a
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    };
    let run_id = RunId::parse(&id).map_err(StoreError::Corrupt)?;
    let created_at = get_time(d, "created_at").ok_or_else(|| corrupt("run without created_at"))?;
    Ok(Run {
        queue_id: match get_str(d, "queue_id") {
            Some(q) => QueueId::parse(&q).map_err(StoreError::Corrupt)?,
            None => QueueId::for_legacy_run(&run_id),
        },
        operation: get_str(d, "operation").unwrap_or_else(|| Operation::FULL_RUN.as_str().to_owned()),
        retry_count: get_int(d, "retry_count") as u32,
        queued_at: get_time(d, "queued_at").unwrap_or(created_at),
        dismissed_at: get_time(d, "dismissed_at"),
        hidden_at: get_time(d, "hidden_at"),
        job_title: get_str(d, "job_title"),
        company: get_str(d, "company"),
        options: crate::domain::RunOptions {
            use_llm: d.get("use_llm").is_none() || get_flag(d, "use_llm"),
            force_refresh: get_flag(d, "force_refresh"),
        },
        elapsed_ms: get_int(d, "elapsed_ms").max(0) as u64,
        run_id,
        job_id: JobId::parse(&job).map_err(StoreError::Corrupt)?,
        status: status.parse().map_err(StoreError::Corrupt)?,
        profile_ref: get_str(d, "profile_ref"),
        source: get_str(d, "source"),
        created_at,
        started_at: get_time(d, "started_at"),
        updated_at: get_time(d, "updated_at").unwrap_or_else(Utc::now),
        finished_at: get_time(d, "finished_at"),
        error: get_str(d, "error"),
        artifacts,
        attempts: get_int(d, "attempts") as u32,
        lease_owner: get_str(d, "lease_owner"),
        lease_expires_at: match d.get("lease_expires_ms") {
            Some(_) => DateTime::<Utc>::from_timestamp_millis(get_int(d, "lease_expires_ms")),
            None => None,
        },
        cost_usd: match d.get("cost_usd") {
            Some(Bson::Double(v)) => Some(*v),
            Some(Bson::Int32(v)) => Some(f64::from(*v)),
            Some(Bson::Int64(v)) => Some(*v as f64),
            _ => None,
        },
        processing_tier: get_str(d, "processing_tier"),
    })
}

fn stage_from_doc(d: &Document) -> Result<StageRecord, StoreError> {
    let stage: StageName = get_str(d, "stage")
        .ok_or_else(|| corrupt("stage without name"))?
        .parse()
        .map_err(StoreError::Corrupt)?;
    let status: StageStatus = get_str(d, "status")
        .ok_or_else(|| corrupt("stage without status"))?
        .parse()
        .map_err(StoreError::Corrupt)?;
    Ok(StageRecord {
        stage,
        status,
        started_at: get_time(d, "started_at"),
        finished_at: get_time(d, "finished_at"),
        duration_ms: d.get("duration_ms").map(|_| get_int(d, "duration_ms") as u64),
        attempts: get_int(d, "attempts").max(i64::from(status == StageStatus::Completed)) as u32,
        producer: get_str(d, "producer").map(|p| StageProducer::from_stored(&p)),
        output: d.get("output").cloned().map(bson_to_json),
        error: get_str(d, "error"),
        model: get_str(d, "model"),
        source_run: get_str(d, "source_run").and_then(|r| RunId::parse(&r).ok()),
    })
}

/// A `$set` document of job fields (dates as BSON dates).
fn set_document(fields: Vec<(String, FieldValue)>) -> Result<Document, StoreError> {
    let mut set = Document::new();
    for (name, value) in fields {
        let value = match value {
            FieldValue::Text(s) => Bson::String(s),
            FieldValue::Time(t) => date(t),
            FieldValue::Json(v) => json_to_bson(&v)?,
        };
        set.insert(name, value);
    }
    Ok(set)
}

fn token_from_doc(d: &Document) -> Result<TokenRecord, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("run token record without {what}"));
    Ok(TokenRecord {
        jti: get_str(d, "_id").ok_or_else(|| corrupt("an id"))?,
        run_id: get_str(d, "run_id")
            .and_then(|r| RunId::parse(&r).ok())
            .ok_or_else(|| corrupt("a run"))?,
        issued_at: get_time(d, "issued_at").ok_or_else(|| corrupt("an issue time"))?,
        expires_at: get_time(d, "expires_at").ok_or_else(|| corrupt("an expiry"))?,
        revoked_at: get_time(d, "revoked_at"),
        issued_by: get_str(d, "issued_by").unwrap_or_default(),
    })
}

/// `text` as a regular expression that matches it literally: every ASCII character that
/// is not a letter or digit is escaped.
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn stage_key(run: &RunId, stage: StageName) -> String {
    format!("{run}:{}", stage.as_str())
}

impl MongoStore {
    /// Connects (lazily: the first call selects a server) and creates indexes.
    pub async fn connect(uri: &str, config: &MongoConfig) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(uri).await.map_err(wrap("parse MONGODB_URI"))?;
        options.server_selection_timeout = Some(config.server_selection_timeout);
        options.app_name = Some("job-runner".into());
        Self::with_options(options, config).await
    }

    /// Connects with prepared client options (tests add command monitoring).
    pub async fn with_options(options: ClientOptions, config: &MongoConfig) -> Result<Self, StoreError> {
        let client = Client::with_options(options).map_err(wrap("create client"))?;
        let db = client.database(&config.database);
        let coll = |name: &str| db.collection::<Document>(&format!("{}{name}", config.prefix));
        let store = Self {
            jobs: db.collection(&config.jobs_collection),
            runs: coll("runs"),
            logs: coll("run_logs"),
            stages: coll("stages"),
            llm_calls: coll("llm_calls"),
            cache: coll("research_cache"),
            alerts: coll("alerts"),
            runners: coll("runners"),
            meta: coll("meta"),
            slots: coll("slots"),
            slots_made: std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            artifact_files: coll("artifacts_files"),
            artifact_chunks: coll("artifacts_chunks"),
            tokens: coll("run_tokens"),
            audit: coll("audit"),
            deliveries: coll("webhook_deliveries"),
            revoked_sessions: coll("revoked_sessions"),
            client,
        };
        store.check_schema(SCHEMA_VERSION, SCHEMA_READABLE_FROM).await?;
        store.backfill_queue_fields().await?;
        store.create_indexes().await?;
        Ok(store)
    }

    /// Deletes the log lines, checkpoints, LLM call records, stored files and tokens of the
    /// runs `ids` (not the runs themselves); returns what it removed.
    async fn delete_run_data(&self, ids: &[String]) -> Result<JobPurge, StoreError> {
        let any = doc! {"run_id": {"$in": ids}};
        let mut out = JobPurge {
            log_lines: self
                .logs
                .delete_many(any.clone())
                .await
                .map_err(wrap("purge logs"))?
                .deleted_count,
            stages: self
                .stages
                .delete_many(any.clone())
                .await
                .map_err(wrap("purge stages"))?
                .deleted_count,
            llm_calls: self
                .llm_calls
                .delete_many(any.clone())
                .await
                .map_err(wrap("purge llm calls"))?
                .deleted_count,
            tokens: self
                .tokens
                .delete_many(any.clone())
                .await
                .map_err(wrap("purge tokens"))?
                .deleted_count,
            ..JobPurge::default()
        };
        self.deliveries
            .delete_many(any)
            .await
            .map_err(wrap("purge webhook deliveries"))?;
        let files: Vec<Document> = self
            .artifact_files
            .find(doc! {"metadata.run_id": {"$in": ids}})
            .await
            .map_err(wrap("find artifacts to purge"))?
            .try_collect()
            .await
            .map_err(wrap("read artifacts to purge"))?;
        let file_ids: Vec<Bson> = files.iter().filter_map(|f| f.get("_id").cloned()).collect();
        if !file_ids.is_empty() {
            self.artifact_chunks
                .delete_many(doc! {"files_id": {"$in": &file_ids}})
                .await
                .map_err(wrap("purge artifact chunks"))?;
            out.stored_files = self
                .artifact_files
                .delete_many(doc! {"_id": {"$in": &file_ids}})
                .await
                .map_err(wrap("purge artifacts"))?
                .deleted_count;
        }
        Ok(out)
    }

    /// Frees the global slot `run` holds, if any.
    async fn release_slot(&self, run: &RunId) -> Result<(), StoreError> {
        self.slots
            .update_many(
                doc! {"holder": run.to_string()},
                doc! {"$set": {"holder": "", "expires_ms": 0_i64}},
            )
            .await
            .map_err(wrap("free run slot"))?;
        Ok(())
    }

    /// Checks the schema version of the runner's collections at start-up (rolling upgrades):
    /// a store that needs a newer reader than `binary` is refused with the reason; an older
    /// one is raised to `binary` (the newest writer's version stays; old binaries keep
    /// working as long as `readable_from` allows them).
    pub async fn check_schema(&self, binary: u32, readable_from: u32) -> Result<(), StoreError> {
        let current = self
            .meta
            .find_one(doc! {"_id": "schema"})
            .await
            .map_err(wrap("read schema version"))?;
        let (version, needs) = current.as_ref().map_or((0, 0), |d| {
            (get_int(d, "version") as u32, get_int(d, "readable_from") as u32)
        });
        if needs > binary {
            return Err(StoreError::SchemaTooNew {
                store: version,
                needs,
                binary,
            });
        }
        if version < binary || current.is_none() {
            self.meta
                .replace_one(
                    doc! {"_id": "schema"},
                    doc! {"_id": "schema", "version": i64::from(binary.max(version)),
                    "readable_from": i64::from(readable_from.max(needs)),
                    "written_by": env!("CARGO_PKG_VERSION"), "at": date(Utc::now())},
                )
                .upsert(true)
                .await
                .map_err(wrap("write schema version"))?;
        }
        Ok(())
    }

    /// Creates every index the queries need; creating an existing index is a no-op.
    async fn create_indexes(&self) -> Result<(), StoreError> {
        let idx = |keys: Document, unique: bool| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().unique(unique).build())
                .build()
        };
        self.runs
            .create_indexes([
                idx(doc! {"status": 1, "created_ms": 1}, false),
                idx(doc! {"job_id": 1, "created_ms": 1}, false),
                idx(doc! {"status": 1, "lease_expires_ms": 1}, false),
                idx(doc! {"status": 1, "queued_ms": 1}, false),
                idx(doc! {"status": 1, "finished_ms": -1}, false),
                idx(doc! {"queue_id": 1}, true),
            ])
            .await
            .map_err(wrap("create run indexes"))?;
        self.logs
            .create_index(idx(doc! {"run_id": 1, "seq": 1}, true))
            .await
            .map_err(wrap("create log index"))?;
        self.stages
            .create_index(idx(doc! {"run_id": 1}, false))
            .await
            .map_err(wrap("create stage index"))?;
        self.artifact_chunks
            .create_index(idx(doc! {"files_id": 1, "n": 1}, true))
            .await
            .map_err(wrap("create artifact chunk index"))?;
        self.tokens
            .create_indexes([idx(doc! {"run_id": 1}, false), idx(doc! {"expires_ms": 1}, false)])
            .await
            .map_err(wrap("create token indexes"))?;
        self.revoked_sessions
            .create_index(idx(doc! {"expires_ms": 1}, false))
            .await
            .map_err(wrap("create revoked session index"))?;
        self.audit
            .create_index(idx(doc! {"at_ms": -1}, false))
            .await
            .map_err(wrap("create audit index"))?;
        self.llm_calls
            .create_index(idx(doc! {"run_id": 1, "at": 1}, false))
            .await
            .map_err(wrap("create llm call index"))?;
        self.llm_calls
            .create_index(idx(doc! {"at_ms": 1}, false))
            .await
            .map_err(wrap("create llm call time index"))?;
        let ttl = IndexModel::builder()
            .keys(doc! {"expires_at": 1})
            .options(IndexOptions::builder().expire_after(Duration::from_secs(0)).build())
            .build();
        self.cache
            .create_index(ttl)
            .await
            .map_err(wrap("create research cache TTL index"))?;
        Ok(())
    }

    /// Gives runs stored before queue items existed their queue id and queue order (once:
    /// afterwards none lacks them), so the unique queue-id index can be built.
    async fn backfill_queue_fields(&self) -> Result<(), StoreError> {
        let legacy: Vec<Document> = self
            .runs
            .find(doc! {"queue_id": {"$exists": false}})
            .await
            .map_err(wrap("find runs without queue ids"))?
            .try_collect()
            .await
            .map_err(wrap("read runs without queue ids"))?;
        for d in &legacy {
            let run = run_from_doc(d)?;
            self.runs
                .update_one(
                    doc! {"_id": run.run_id.to_string(), "queue_id": {"$exists": false}},
                    doc! {"$set": {"queue_id": run.queue_id.to_string(), "operation": &run.operation,
                    "queued_at": date(run.queued_at), "queued_ms": millis(run.queued_at)}},
                )
                .await
                .map_err(wrap("give a run its queue id"))?;
        }
        if !legacy.is_empty() {
            tracing::info!(count = legacy.len(), "gave earlier runs their queue ids");
        }
        Ok(())
    }

    async fn find_runs(&self, filter: Document, limit: Option<i64>, skip: u64) -> Result<Vec<Run>, StoreError> {
        self.find_runs_sorted(filter, doc! {"created_ms": -1, "_id": -1}, limit, skip)
            .await
    }

    async fn find_runs_sorted(
        &self,
        filter: Document,
        sort: Document,
        limit: Option<i64>,
        skip: u64,
    ) -> Result<Vec<Run>, StoreError> {
        let mut find = self.runs.find(filter).sort(sort).skip(skip);
        if let Some(l) = limit {
            find = find.limit(l);
        }
        let docs: Vec<Document> = find
            .await
            .map_err(wrap("find runs"))?
            .try_collect()
            .await
            .map_err(wrap("read runs"))?;
        docs.iter().map(run_from_doc).collect()
    }
}

#[async_trait]
impl Store for MongoStore {
    fn backend(&self) -> &'static str {
        "mongodb"
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .database("admin")
            .run_command(doc! {"ping": 1})
            .await
            .map_err(wrap("ping"))?;
        Ok(())
    }

    async fn upsert_job(&self, job: &JobPosting) -> Result<bool, StoreError> {
        let id = oid(&job.id)?;
        let mut fields = Document::new();
        for (k, v) in job.to_document() {
            if k != "_id" {
                fields.insert(k, json_to_bson(&v)?);
            }
        }
        let res = self
            .jobs
            .update_one(doc! {"_id": id}, doc! {"$set": fields})
            .upsert(true)
            .await
            .map_err(wrap("import job"))?;
        Ok(res.upserted_id.is_some())
    }

    async fn get_job_document(&self, id: &JobId) -> Result<Option<Map<String, Value>>, StoreError> {
        let found = self
            .jobs
            .find_one(doc! {"_id": oid(id)?})
            .await
            .map_err(wrap("get job"))?;
        Ok(found.and_then(|d| match bson_to_json(Bson::Document(d)) {
            Value::Object(m) => Some(m),
            _ => None,
        }))
    }

    async fn update_job(&self, id: &JobId, u: &JobUpdate) -> Result<(), StoreError> {
        let mut set = set_document(u.fields())?;
        if u.run_entry.is_some() {
            // One job has one active run at a time, so reading the list and writing it back
            // does not race another run of the same job.
            let current = self
                .jobs
                .find_one(doc! {"_id": oid(id)?})
                .projection(doc! {"pipeline_runs": 1})
                .await
                .map_err(wrap("read job runs"))?;
            let existing = current.and_then(|d| d.get("pipeline_runs").cloned()).map(bson_to_json);
            if let Some(runs) = u.merged_runs(existing.as_ref()) {
                set.insert("pipeline_runs", json_to_bson(&runs)?);
            }
        }
        // Never an upsert: the dashboard owns job documents.
        let res = self
            .jobs
            .update_one(doc! {"_id": oid(id)?}, doc! {"$set": set})
            .await
            .map_err(wrap("update job"))?;
        if res.matched_count == 0 {
            return Err(StoreError::JobNotFound(id.clone()));
        }
        Ok(())
    }

    async fn insert_runs(&self, runs: &[Run]) -> Result<(), StoreError> {
        if runs.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = runs.iter().map(|r| r.run_id.to_string()).collect();
        // All or none: refuse the batch if any id exists, and undo a partial insert.
        let existing = self
            .runs
            .count_documents(doc! {"_id": {"$in": &ids}})
            .await
            .map_err(wrap("check runs"))?;
        if existing > 0 {
            return Err(StoreError::Corrupt(format!(
                "{existing} run id(s) of the batch already exist"
            )));
        }
        let docs = runs.iter().map(run_to_doc).collect::<Result<Vec<_>, _>>()?;
        if let Err(e) = self.runs.insert_many(docs).await {
            let _ = self.runs.delete_many(doc! {"_id": {"$in": &ids}}).await;
            return Err(wrap("insert runs")(e));
        }
        Ok(())
    }

    async fn get_run(&self, id: &RunId) -> Result<Option<Run>, StoreError> {
        let d = self
            .runs
            .find_one(doc! {"_id": id.to_string()})
            .await
            .map_err(wrap("get run"))?;
        d.as_ref().map(run_from_doc).transpose()
    }

    async fn list_runs(&self, filter: &RunFilter) -> Result<RunPage, StoreError> {
        let mut f = Document::new();
        if let Some(s) = filter.status {
            f.insert("status", s.as_str());
        }
        if let Some(j) = &filter.job_id {
            f.insert("job_id", j.to_string());
        }
        let total = self.runs.count_documents(f.clone()).await.map_err(wrap("count runs"))?;
        let runs = self
            .find_runs(f, Some(filter.limit as i64), filter.offset as u64)
            .await?;
        Ok(RunPage { runs, total })
    }

    async fn count_runs(&self, status: RunStatus) -> Result<u64, StoreError> {
        self.runs
            .count_documents(doc! {"status": status.as_str()})
            .await
            .map_err(wrap("count runs"))
    }

    async fn finished_since(&self, since: DateTime<Utc>) -> Result<FinishedCounts, StoreError> {
        let mut counts = FinishedCounts::default();
        for (status, slot) in [
            ("completed", &mut counts.completed),
            ("failed", &mut counts.failed),
            ("cancelled", &mut counts.cancelled),
        ] {
            *slot = self
                .runs
                .count_documents(doc! {"status": status, "finished_ms": {"$gte": millis(since)}})
                .await
                .map_err(wrap("count finished runs"))?;
        }
        Ok(counts)
    }

    async fn active_run_for_job(&self, job: &JobId) -> Result<Option<Run>, StoreError> {
        let d = self
            .runs
            .find_one(doc! {"job_id": job.to_string(), "status": {"$in": ["queued", "running"]}})
            .sort(doc! {"created_ms": 1})
            .await
            .map_err(wrap("active run for job"))?;
        d.as_ref().map(run_from_doc).transpose()
    }

    async fn claim_next_run(&self, owner: &str, lease: Duration) -> Result<Option<Run>, StoreError> {
        let now = Utc::now();
        let claimed = self
            .runs
            .find_one_and_update(
                doc! {"status": "queued"},
                doc! {
                    "$set": {"status": "running", "lease_owner": owner, "lease_expires_ms": lease_until(lease),
                             "updated_at": date(now), "cancel_requested": false},
                    "$inc": {"attempts": 1_i64},
                },
            )
            .sort(doc! {"queued_ms": 1, "_id": 1})
            .return_document(ReturnDocument::After)
            .await
            .map_err(wrap("claim run"))?;
        let Some(d) = claimed else { return Ok(None) };
        let mut run = run_from_doc(&d)?;
        if run.started_at.is_none() {
            // First claim: record the start (the field is absent until then).
            self.runs
                .update_one(
                    doc! {"_id": run.run_id.to_string(), "started_at": {"$exists": false}},
                    doc! {"$set": {"started_at": date(now)}},
                )
                .await
                .map_err(wrap("record run start"))?;
            run.started_at = DateTime::<Utc>::from_timestamp_millis(millis(now));
        }
        Ok(Some(run))
    }

    async fn claim_next_run_within(
        &self,
        owner: &str,
        lease: Duration,
        global_cap: usize,
    ) -> Result<Option<Run>, StoreError> {
        use std::sync::atomic::Ordering;
        if global_cap == 0 {
            return self.claim_next_run(owner, lease).await;
        }
        // The cap's slots exist (upserts are idempotent; done again only when the cap grows).
        if self.slots_made.load(Ordering::SeqCst) < global_cap {
            for i in 0..global_cap as i64 {
                self.slots
                    .update_one(
                        doc! {"_id": i},
                        doc! {"$setOnInsert": {"holder": "", "expires_ms": 0_i64}},
                    )
                    .upsert(true)
                    .await
                    .map_err(wrap("create run slot"))?;
            }
            self.slots_made.store(global_cap, Ordering::SeqCst);
        }
        // Take a free slot (or one whose holder's lease ended), then the run; a slot taken
        // for nothing is given back. Whoever races, at most `global_cap` slots are held.
        let token = format!("claiming:{owner}:{}", uuid::Uuid::new_v4().simple());
        let now = millis(Utc::now());
        let slot = self
            .slots
            .find_one_and_update(
                doc! {"_id": {"$lt": global_cap as i64},
                "$or": [{"holder": ""}, {"expires_ms": {"$lt": now}}]},
                doc! {"$set": {"holder": &token, "expires_ms": lease_until(lease)}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(wrap("take run slot"))?;
        let Some(slot) = slot else { return Ok(None) };
        let slot_id = slot.get("_id").cloned().unwrap_or(Bson::Null);
        let claimed = self.claim_next_run(owner, lease).await;
        let holder = match &claimed {
            Ok(Some(run)) => run.run_id.to_string(),
            _ => String::new(),
        };
        self.slots
            .update_one(
                doc! {"_id": slot_id, "holder": &token},
                doc! {"$set": {"holder": &holder, "expires_ms": if holder.is_empty() { 0 } else { lease_until(lease) }}},
            )
            .await
            .map_err(wrap("hand run slot over"))?;
        claimed
    }

    async fn renew_lease(
        &self,
        id: &RunId,
        owner: &str,
        lease: Duration,
        ran: Duration,
    ) -> Result<LeaseState, StoreError> {
        let d = self
            .runs
            .find_one_and_update(
                doc! {"_id": id.to_string(), "status": "running", "lease_owner": owner},
                doc! {"$set": {"lease_expires_ms": lease_until(lease)}, "$inc": {"elapsed_ms": ran.as_millis() as i64}},
            )
            .return_document(ReturnDocument::After)
            .await
            .map_err(wrap("renew lease"))?;
        if d.is_some() {
            self.slots
                .update_one(
                    doc! {"holder": id.to_string()},
                    doc! {"$set": {"expires_ms": lease_until(lease)}},
                )
                .await
                .map_err(wrap("renew run slot"))?;
        }
        Ok(match d {
            None => LeaseState::Lost,
            Some(d) if get_flag(&d, "cancel_requested") => LeaseState::CancelRequested,
            Some(_) => LeaseState::Held,
        })
    }

    async fn request_cancel(&self, id: &RunId) -> Result<bool, StoreError> {
        let res = self
            .runs
            .update_one(
                doc! {"_id": id.to_string(), "status": "running"},
                doc! {"$set": {"cancel_requested": true}},
            )
            .await
            .map_err(wrap("request cancel"))?;
        Ok(res.matched_count == 1)
    }

    async fn finish_run(&self, id: &RunId, owner: &str, f: &RunFinish) -> Result<bool, StoreError> {
        let mut set = doc! {
            "status": f.status.as_str(),
            "artifacts": bson::to_document(&f.artifacts).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            "finished_at": date(f.at),
            "finished_ms": millis(f.at),
            "updated_at": date(f.at),
        };
        if let Some(e) = &f.error {
            set.insert("error", e.clone());
        }
        if let Some(c) = f.cost_usd {
            set.insert("cost_usd", c);
        }
        let res = self
            .runs
            .update_one(
                doc! {"_id": id.to_string(), "status": "running", "lease_owner": owner},
                doc! {"$set": set, "$unset": {"lease_owner": "", "lease_expires_ms": ""}},
            )
            .await
            .map_err(wrap("finish run"))?;
        self.release_slot(id).await?;
        Ok(res.modified_count == 1)
    }

    async fn cancel_queued_run(&self, id: &RunId, reason: &str) -> Result<bool, StoreError> {
        let now = Utc::now();
        let res = self
            .runs
            .update_one(
                doc! {"_id": id.to_string(), "status": "queued"},
                doc! {"$set": {"status": "cancelled", "error": reason, "finished_at": date(now), "finished_ms": millis(now), "updated_at": date(now)}},
            )
            .await
            .map_err(wrap("cancel queued run"))?;
        Ok(res.modified_count == 1)
    }

    async fn requeue_run(&self, id: &RunId, owner: &str) -> Result<bool, StoreError> {
        let res = self
            .runs
            .update_one(
                doc! {"_id": id.to_string(), "status": "running", "lease_owner": owner},
                doc! {"$set": {"status": "queued", "updated_at": date(Utc::now())},
                "$unset": {"lease_owner": "", "lease_expires_ms": ""}},
            )
            .await
            .map_err(wrap("requeue run"))?;
        self.release_slot(id).await?;
        Ok(res.modified_count == 1)
    }

    async fn recover_runs(&self, now: DateTime<Utc>, sole_instance: bool) -> Result<Vec<RunId>, StoreError> {
        let mut filter = doc! {"status": "running"};
        if !sole_instance {
            filter.insert("lease_expires_ms", doc! {"$lt": millis(now)});
        }
        let docs: Vec<Document> = self
            .runs
            .find(filter.clone())
            .await
            .map_err(wrap("find expired runs"))?
            .try_collect()
            .await
            .map_err(wrap("read runs"))?;
        let mut recovered = Vec::new();
        for d in docs {
            let Some(id) = get_str(&d, "_id") else { continue };
            // Re-check the condition per run so a lease renewed meanwhile is respected.
            let mut one = filter.clone();
            one.insert("_id", id.clone());
            let res = self
                .runs
                .update_one(
                    one,
                    doc! {"$set": {"status": "queued", "updated_at": date(now)}, "$unset": {"lease_owner": "", "lease_expires_ms": ""}},
                )
                .await
                .map_err(wrap("requeue expired run"))?;
            if res.modified_count == 1 {
                let id = RunId::parse(&id).map_err(StoreError::Corrupt)?;
                self.release_slot(&id).await?;
                recovered.push(id);
            }
        }
        Ok(recovered)
    }

    async fn queue_view(&self, q: &QueueQuery) -> Result<QueueView, StoreError> {
        let newest = || doc! {"finished_ms": -1, "_id": -1};
        let claim_order = || doc! {"queued_ms": 1, "_id": 1};
        let pending = doc! {"status": "queued"};
        let running = doc! {"status": "running"};
        let failed = doc! {"status": "failed", "dismissed_at": {"$exists": false}, "hidden_at": {"$exists": false}};
        // History = completed or cancelled, plus dismissed failures: two queries merged.
        let mut history = self
            .find_runs_sorted(
                doc! {"status": {"$in": ["completed", "cancelled"]}, "hidden_at": {"$exists": false}},
                newest(),
                Some(q.history as i64),
                0,
            )
            .await?;
        history.extend(
            self.find_runs_sorted(
                doc! {"status": "failed", "dismissed_at": {"$exists": true}, "hidden_at": {"$exists": false}},
                newest(),
                Some(q.history as i64),
                0,
            )
            .await?,
        );
        history.sort_by(|a, b| (b.finished_at, &b.run_id).cmp(&(a.finished_at, &a.run_id)));
        history.truncate(q.history);
        let count = |f: Document| async move { self.runs.count_documents(f).await.map_err(wrap("count queue")) };
        Ok(QueueView {
            pending: self
                .find_runs_sorted(pending.clone(), claim_order(), Some(q.pending as i64), 0)
                .await?,
            running: self
                .find_runs_sorted(running.clone(), claim_order(), Some(q.running as i64), 0)
                .await?,
            failed: self
                .find_runs_sorted(failed.clone(), newest(), Some(q.failed as i64), 0)
                .await?,
            history,
            total_pending: count(pending).await?,
            total_running: count(running).await?,
            total_failed: count(failed).await?,
        })
    }

    async fn queued_ahead(&self, run: &Run) -> Result<u64, StoreError> {
        // The claim order: queue time, then id; two counts instead of an `$or`.
        let at = millis(run.queued_at);
        let earlier = self
            .runs
            .count_documents(doc! {"status": "queued", "queued_ms": {"$lt": at}})
            .await
            .map_err(wrap("count runs ahead"))?;
        let same_time = self
            .runs
            .count_documents(doc! {"status": "queued", "queued_ms": at, "_id": {"$lt": run.run_id.to_string()}})
            .await
            .map_err(wrap("count runs ahead"))?;
        Ok(earlier + same_time)
    }

    async fn run_by_queue_id(&self, id: &QueueId) -> Result<Option<Run>, StoreError> {
        let d = self
            .runs
            .find_one(doc! {"queue_id": id.to_string()})
            .await
            .map_err(wrap("find run by queue id"))?;
        d.as_ref().map(run_from_doc).transpose()
    }

    async fn retry_failed_run(
        &self,
        failed: &RunId,
        retry: &Run,
        retired_queue_id: &QueueId,
        at: DateTime<Utc>,
    ) -> Result<Option<Run>, StoreError> {
        let Some(run) = self.get_run(failed).await? else {
            return Ok(None);
        };
        // MongoDB has no cross-document condition: check the job, then compare-and-set the
        // failed run (its queue id handed over), then insert the retry and its reused stages;
        // a failed insert gives the queue id back.
        if run.status != RunStatus::Failed || self.active_run_for_job(&run.job_id).await?.is_some() {
            return Ok(None);
        }
        let claimed = self
            .runs
            .update_one(
                doc! {"_id": failed.to_string(), "status": "failed", "retried_by": {"$exists": false}},
                doc! {"$set": {"retried_by": retry.run_id.to_string(), "queue_id": retired_queue_id.to_string(),
                "hidden_at": date(at), "updated_at": date(at)}},
            )
            .await
            .map_err(wrap("claim failed run for retry"))?;
        if claimed.modified_count == 0 {
            return Ok(None);
        }
        if let Err(e) = self.insert_runs(std::slice::from_ref(retry)).await {
            let _ = self
                .runs
                .update_one(
                    doc! {"_id": failed.to_string()},
                    doc! {"$set": {"queue_id": run.queue_id.to_string()}, "$unset": {"retried_by": "", "hidden_at": ""}},
                )
                .await;
            return Err(e);
        }
        for record in self.load_stages(failed).await? {
            if record.status != StageStatus::Completed || record.stage == StageName::Publisher {
                continue;
            }
            let source = match (record.producer, record.source_run.clone()) {
                (Some(StageProducer::Reused), Some(src)) => src,
                _ => failed.clone(),
            };
            let provenance = Provenance {
                producer: StageProducer::Reused,
                model: record.model.clone(),
                source_run: Some(source),
            };
            let output = record.output.clone().unwrap_or_default();
            self.stage_completed(
                &retry.run_id,
                record.stage,
                &provenance,
                &output,
                record.finished_at.unwrap_or(at),
                Duration::ZERO,
            )
            .await?;
        }
        // As stored (timestamps at the store's precision).
        self.get_run(&retry.run_id).await
    }

    async fn dismiss_failed_run(&self, id: &RunId, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let res = self
            .runs
            .update_one(
                doc! {"_id": id.to_string(), "status": "failed", "dismissed_at": {"$exists": false},
                "hidden_at": {"$exists": false}},
                doc! {"$set": {"dismissed_at": date(at)}},
            )
            .await
            .map_err(wrap("dismiss run"))?;
        Ok(res.modified_count == 1)
    }

    async fn hide_finished_runs(
        &self,
        finished_before: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<FinishedCounts, StoreError> {
        let mut counts = FinishedCounts::default();
        for (status, slot) in [
            ("completed", &mut counts.completed),
            ("failed", &mut counts.failed),
            ("cancelled", &mut counts.cancelled),
        ] {
            *slot = self
                .runs
                .update_many(
                    doc! {"status": status, "hidden_at": {"$exists": false},
                    "finished_ms": {"$lt": millis(finished_before)}},
                    doc! {"$set": {"hidden_at": date(at)}},
                )
                .await
                .map_err(wrap("hide finished runs"))?
                .modified_count;
        }
        Ok(counts)
    }

    async fn purge_finished_runs(
        &self,
        finished_before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<RunId>, StoreError> {
        let docs: Vec<Document> = self
            .runs
            .find(doc! {"status": {"$in": ["completed", "failed", "cancelled"]},
            "finished_ms": {"$lt": millis(finished_before)}})
            .sort(doc! {"finished_ms": 1})
            .limit(limit as i64)
            .await
            .map_err(wrap("find runs to purge"))?
            .try_collect()
            .await
            .map_err(wrap("read runs to purge"))?;
        let ids: Vec<String> = docs.iter().filter_map(|d| get_str(d, "_id")).collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // The run's data first, the run last: an interrupted purge is finished next time.
        self.delete_run_data(&ids).await?;
        self.runs
            .delete_many(doc! {"_id": {"$in": &ids}})
            .await
            .map_err(wrap("purge runs"))?;
        ids.iter()
            .map(|i| RunId::parse(i).map_err(StoreError::Corrupt))
            .collect()
    }

    async fn heartbeat(&self, b: &RunnerBeat) -> Result<(), StoreError> {
        self.runners
            .replace_one(
                doc! {"_id": &b.runner_id},
                doc! {"_id": &b.runner_id, "host": &b.host, "version": &b.version, "started_at": date(b.started_at),
                "last_seen": date(b.last_seen), "last_seen_ms": millis(b.last_seen),
                "active_runs": i64::from(b.active_runs), "draining": b.draining},
            )
            .upsert(true)
            .await
            .map_err(wrap("heartbeat"))?;
        Ok(())
    }

    async fn runners(&self) -> Result<Vec<RunnerBeat>, StoreError> {
        let docs: Vec<Document> = self
            .runners
            .find(doc! {})
            .sort(doc! {"last_seen_ms": -1})
            .await
            .map_err(wrap("list runners"))?
            .try_collect()
            .await
            .map_err(wrap("read runners"))?;
        Ok(docs
            .iter()
            .map(|d| RunnerBeat {
                runner_id: get_str(d, "_id").unwrap_or_default(),
                host: get_str(d, "host").unwrap_or_default(),
                version: get_str(d, "version").unwrap_or_default(),
                started_at: get_time(d, "started_at").unwrap_or_default(),
                last_seen: get_time(d, "last_seen").unwrap_or_default(),
                active_runs: get_int(d, "active_runs") as u32,
                draining: d.get_bool("draining").unwrap_or(false),
            })
            .collect())
    }

    fn keeps_artifacts(&self) -> bool {
        true
    }

    async fn put_artifact(&self, a: &StoredArtifact) -> Result<(), StoreError> {
        // A bucket in GridFS's layout (a files document with length, chunkSize, uploadDate,
        // filename and metadata; chunks of 255 KiB with files_id and n), under
        // `<prefix>artifacts_files` / `_chunks`: some MongoDB-compatible servers refuse the
        // dotted `.files` / `.chunks` names. One file per run and name (the id says which);
        // the files document is written last, so a file is visible only once complete.
        let id = format!("{}/{}", a.run_id, a.name);
        self.artifact_files
            .delete_one(doc! {"_id": &id})
            .await
            .map_err(wrap("replace artifact"))?;
        self.artifact_chunks
            .delete_many(doc! {"files_id": &id})
            .await
            .map_err(wrap("replace artifact chunks"))?;
        let chunks: Vec<Document> = a
            .bytes
            .chunks(ARTIFACT_CHUNK)
            .enumerate()
            .map(|(n, data)| {
                doc! {"_id": format!("{id}#{n}"), "files_id": &id, "n": n as i64,
                "data": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: data.to_vec() }}
            })
            .collect();
        if !chunks.is_empty() {
            self.artifact_chunks
                .insert_many(chunks)
                .await
                .map_err(wrap("write artifact chunks"))?;
        }
        self.artifact_files
            .insert_one(doc! {
                "_id": &id, "length": a.bytes.len() as i64, "chunkSize": ARTIFACT_CHUNK as i64,
                "uploadDate": bson::DateTime::now(), "filename": &a.name,
                "metadata": {"run_id": a.run_id.to_string(), "job_id": a.job_id.to_string(), "name": &a.name,
                             "size": a.bytes.len() as i64, "sha256": &a.sha256},
            })
            .await
            .map_err(wrap("write artifact"))?;
        Ok(())
    }

    async fn get_artifact(&self, run: &RunId, name: &str) -> Result<Option<StoredArtifact>, StoreError> {
        let id = format!("{run}/{name}");
        let Some(file) = self
            .artifact_files
            .find_one(doc! {"_id": &id})
            .await
            .map_err(wrap("find artifact"))?
        else {
            return Ok(None);
        };
        let chunks: Vec<Document> = self
            .artifact_chunks
            .find(doc! {"files_id": &id})
            .sort(doc! {"n": 1})
            .await
            .map_err(wrap("find artifact chunks"))?
            .try_collect()
            .await
            .map_err(wrap("read artifact chunks"))?;
        let mut bytes = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            let n = if c.contains_key("n") { get_int(c, "n") } else { -1 };
            match c.get("data") {
                Some(Bson::Binary(b)) if n == i as i64 => bytes.extend_from_slice(&b.bytes),
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "artifact {id}: chunk {i} is missing or malformed (n {n}, data {})",
                        other.map_or("absent".to_owned(), |d| format!("{:?}", d.element_type()))
                    )))
                }
            }
        }
        let meta = file.get_document("metadata").cloned().unwrap_or_default();
        let artifact = StoredArtifact::new(
            run.clone(),
            JobId::parse(&get_str(&meta, "job_id").unwrap_or_default()).map_err(StoreError::Corrupt)?,
            name,
            bytes,
        );
        if get_str(&meta, "sha256").as_deref() != Some(artifact.sha256.as_str()) {
            return Err(StoreError::Corrupt(format!(
                "artifact {id}: its bytes do not match the SHA-256 it was stored with"
            )));
        }
        Ok(Some(artifact))
    }

    async fn stage_started(&self, run: &RunId, stage: StageName, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.stages
            .update_one(
                doc! {"_id": stage_key(run, stage)},
                doc! {
                    "$set": {"run_id": run.to_string(), "stage": stage.as_str(), "status": "running", "started_at": date(at)},
                    "$unset": {"finished_at": "", "error": ""},
                    "$inc": {"attempts": 1_i64},
                },
            )
            .upsert(true)
            .await
            .map_err(wrap("record stage start"))?;
        Ok(())
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
        let producer = produced.producer.as_str();
        let model = produced.model.as_deref();
        self.stages
            .update_one(
                doc! {"_id": stage_key(run, stage)},
                doc! {
                    "$set": {"run_id": run.to_string(), "stage": stage.as_str(), "status": "completed",
                             "finished_at": date(finished_at), "duration_ms": duration.as_millis() as i64,
                             "producer": producer, "output": json_to_bson(output)?,
                             "model": model.map(|m| Bson::String(m.to_owned())).unwrap_or(Bson::Null),
                             "source_run": produced.source_run.as_ref().map(|r| Bson::String(r.to_string())).unwrap_or(Bson::Null)},
                    "$unset": {"error": ""},
                },
            )
            .upsert(true)
            .await
            .map_err(wrap("checkpoint stage"))?;
        Ok(())
    }

    async fn stage_failed(
        &self,
        run: &RunId,
        stage: StageName,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.stages
            .update_one(
                doc! {"_id": stage_key(run, stage)},
                doc! {"$set": {"run_id": run.to_string(), "stage": stage.as_str(), "status": "failed",
                "finished_at": date(at), "error": error}},
            )
            .upsert(true)
            .await
            .map_err(wrap("record stage failure"))?;
        Ok(())
    }

    async fn latest_stage_output(
        &self,
        job: &JobId,
        stage: StageName,
        except: &RunId,
    ) -> Result<Option<(RunId, StageRecord)>, StoreError> {
        // Stage documents carry their run, not the job: the job's recent runs first.
        let runs = self.find_runs(doc! {"job_id": job.to_string()}, Some(100), 0).await?;
        let ids: Vec<String> = runs
            .iter()
            .map(|r| r.run_id.to_string())
            .filter(|id| id != except.as_ref())
            .collect();
        if ids.is_empty() {
            return Ok(None);
        }
        let docs: Vec<Document> = self
            .stages
            .find(doc! {"run_id": {"$in": &ids}, "stage": stage.as_str(), "status": "completed"})
            .await
            .map_err(wrap("find stage outputs"))?
            .try_collect()
            .await
            .map_err(wrap("read stage outputs"))?;
        let latest = docs
            .iter()
            .filter(|d| d.get("output").is_some_and(|o| !matches!(o, Bson::Null)))
            .map(|d| stage_from_doc(d).map(|rec| (get_str(d, "run_id"), rec)))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .filter_map(|(run, rec)| Some((RunId::parse(&run?).ok()?, rec)))
            .max_by_key(|(_, rec)| rec.finished_at);
        Ok(latest)
    }

    async fn load_stages(&self, run: &RunId) -> Result<Vec<StageRecord>, StoreError> {
        let docs: Vec<Document> = self
            .stages
            .find(doc! {"run_id": run.to_string()})
            .await
            .map_err(wrap("load stages"))?
            .try_collect()
            .await
            .map_err(wrap("read stages"))?;
        let mut out = docs.iter().map(stage_from_doc).collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|r| r.stage);
        Ok(out)
    }

    async fn append_logs(&self, lines: &[LogLine]) -> Result<(), StoreError> {
        if lines.is_empty() {
            return Ok(());
        }
        let docs: Vec<Document> = lines
            .iter()
            .map(|l| {
                let mut d = doc! {
                    "_id": format!("{}:{:012}", l.run_id, l.seq),
                    "run_id": l.run_id.to_string(), "seq": l.seq as i64, "ts": date(l.ts),
                    "level": l.level.as_str(), "message": l.message.clone(),
                };
                if let Some(s) = l.stage {
                    d.insert("stage", s.as_str());
                }
                d
            })
            .collect();
        match self.logs.insert_many(docs).ordered(false).await {
            Ok(_) => Ok(()),
            // A line already stored (a retried batch) is fine; anything else is not.
            Err(e) if only_duplicate_keys(&e) => Ok(()),
            Err(e) => Err(wrap("append logs")(e)),
        }
    }

    async fn read_logs(&self, run: &RunId, after: u64, limit: usize) -> Result<Vec<LogLine>, StoreError> {
        let docs: Vec<Document> = self
            .logs
            .find(doc! {"run_id": run.to_string(), "seq": {"$gt": after as i64}})
            .sort(doc! {"seq": 1})
            .limit(limit as i64)
            .await
            .map_err(wrap("read logs"))?
            .try_collect()
            .await
            .map_err(wrap("read logs"))?;
        Ok(docs
            .iter()
            .map(|d| LogLine {
                run_id: run.clone(),
                seq: get_int(d, "seq") as u64,
                ts: get_time(d, "ts").unwrap_or_else(Utc::now),
                level: get_str(d, "level")
                    .and_then(|l| LogLevel::parse(&l))
                    .unwrap_or(LogLevel::Info),
                stage: get_str(d, "stage").and_then(|s| s.parse().ok()),
                message: get_str(d, "message").unwrap_or_default(),
            })
            .collect())
    }

    async fn last_log_seq(&self, run: &RunId) -> Result<u64, StoreError> {
        let d = self
            .logs
            .find_one(doc! {"run_id": run.to_string()})
            .sort(doc! {"seq": -1})
            .await
            .map_err(wrap("last log seq"))?;
        Ok(d.map(|d| get_int(&d, "seq") as u64).unwrap_or(0))
    }

    async fn record_llm_call(&self, c: &LlmCall) -> Result<(), StoreError> {
        let d = doc! {
            "run_id": c.run_id.to_string(), "stage": c.stage.as_str(), "provider": c.provider.clone(),
            "model": c.model.clone(), "input_tokens": c.input_tokens as i64, "output_tokens": c.output_tokens as i64,
            "cost_usd": c.cost_usd.map(Bson::Double).unwrap_or(Bson::Null), "latency_ms": c.latency_ms as i64,
            "outcome": c.outcome.as_str(), "at": date(c.at), "at_ms": millis(c.at),
            "prompt": c.prompt.clone(), "turn": i64::from(c.turn),
            "detail": c.detail.clone().map(Bson::String).unwrap_or(Bson::Null),
        };
        self.llm_calls.insert_one(d).await.map_err(wrap("record llm call"))?;
        Ok(())
    }

    async fn llm_calls(&self, run: &RunId) -> Result<Vec<LlmCall>, StoreError> {
        self.find_llm_calls(doc! {"run_id": run.to_string()}).await
    }

    async fn llm_calls_since(&self, since: DateTime<Utc>) -> Result<Vec<LlmCall>, StoreError> {
        self.find_llm_calls(doc! {"at_ms": {"$gte": millis(since)}}).await
    }

    async fn cache_get(&self, key: &str, now: DateTime<Utc>) -> Result<Option<Value>, StoreError> {
        let found = self
            .cache
            .find_one(doc! {"_id": key, "expires_ms": {"$gt": millis(now)}})
            .await
            .map_err(wrap("research cache get"))?;
        Ok(found
            .and_then(|d| get_str(&d, "value"))
            .and_then(|t| serde_json::from_str(&t).ok()))
    }

    async fn cache_put(&self, key: &str, value: &Value, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.cache
            .replace_one(
                doc! {"_id": key},
                doc! {"_id": key, "value": value.to_string(), "expires_at": date(expires_at), "expires_ms": millis(expires_at)},
            )
            .upsert(true)
            .await
            .map_err(wrap("research cache put"))?;
        Ok(())
    }

    async fn record_alert(&self, a: &AlertRecord) -> Result<(), StoreError> {
        let d = doc! {
            "_id": a.alert_id.clone(), "at": date(a.timestamp), "at_ms": millis(a.timestamp),
            "level": a.level.clone(), "source": a.source.clone(), "message": a.message.clone(),
            "metadata": a.metadata.to_string(),
        };
        self.alerts
            .replace_one(doc! {"_id": a.alert_id.clone()}, d)
            .upsert(true)
            .await
            .map_err(wrap("record alert"))?;
        Ok(())
    }

    async fn recent_alerts(&self, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        let docs: Vec<Document> = self
            .alerts
            .find(doc! {})
            .sort(doc! {"at_ms": -1, "_id": -1})
            .limit(limit as i64)
            .await
            .map_err(wrap("recent alerts"))?
            .try_collect()
            .await
            .map_err(wrap("recent alerts"))?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                Some(AlertRecord {
                    alert_id: get_str(d, "_id")?,
                    timestamp: get_time(d, "at")?,
                    level: get_str(d, "level")?,
                    source: get_str(d, "source")?,
                    message: get_str(d, "message").unwrap_or_default(),
                    metadata: get_str(d, "metadata")
                        .and_then(|m| serde_json::from_str(&m).ok())
                        .unwrap_or(Value::Null),
                })
            })
            .collect())
    }

    async fn record_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StoreError> {
        if tokens.is_empty() {
            return Ok(());
        }
        let docs: Vec<Document> = tokens
            .iter()
            .map(|t| {
                doc! {"_id": &t.jti, "run_id": t.run_id.to_string(), "issued_at": date(t.issued_at),
                "expires_at": date(t.expires_at), "expires_ms": millis(t.expires_at),
                "revoked_at": t.revoked_at.map(date), "issued_by": &t.issued_by}
            })
            .collect();
        self.tokens.insert_many(docs).await.map_err(wrap("record tokens"))?;
        Ok(())
    }

    async fn get_token(&self, jti: &str) -> Result<Option<TokenRecord>, StoreError> {
        let found = self
            .tokens
            .find_one(doc! {"_id": jti})
            .await
            .map_err(wrap("read token"))?;
        found.as_ref().map(token_from_doc).transpose()
    }

    async fn revoke_token(&self, jti: &str, at: DateTime<Utc>) -> Result<Option<TokenRecord>, StoreError> {
        self.tokens
            .update_one(
                doc! {"_id": jti, "revoked_at": Bson::Null},
                doc! {"$set": {"revoked_at": date(at)}},
            )
            .await
            .map_err(wrap("revoke token"))?;
        self.get_token(jti).await
    }

    async fn purge_expired_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let expired = doc! {"expires_ms": {"$lt": millis(now)}};
        let tokens = self
            .tokens
            .delete_many(expired.clone())
            .await
            .map_err(wrap("purge expired tokens"))?
            .deleted_count;
        let sessions = self
            .revoked_sessions
            .delete_many(expired)
            .await
            .map_err(wrap("purge expired session revocations"))?
            .deleted_count;
        Ok(tokens + sessions)
    }

    async fn revoke_session(&self, jti: &str, expires_at: DateTime<Utc>) -> Result<(), StoreError> {
        self.revoked_sessions
            .update_one(
                doc! {"_id": jti},
                doc! {"$setOnInsert": {"expires_ms": millis(expires_at), "revoked_at": date(Utc::now())}},
            )
            .upsert(true)
            .await
            .map_err(wrap("revoke session"))?;
        Ok(())
    }

    async fn session_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(self
            .revoked_sessions
            .find_one(doc! {"_id": jti})
            .projection(doc! {"_id": 1})
            .await
            .map_err(wrap("read session revocation"))?
            .is_some())
    }

    async fn search_jobs(&self, text: &str, limit: usize) -> Result<Vec<JobSummary>, StoreError> {
        let text = text.trim();
        let filter = if text.is_empty() {
            doc! {}
        } else {
            let pattern = regex_literal(text);
            doc! {"$or": [
                {"company": {"$regex": &pattern, "$options": "i"}},
                {"title": {"$regex": &pattern, "$options": "i"}},
            ]}
        };
        let docs: Vec<Document> = self
            .jobs
            .find(filter)
            .projection(doc! {"company": 1, "title": 1, "location": 1, "status": 1})
            .sort(doc! {"_id": -1})
            .limit(limit as i64)
            .await
            .map_err(wrap("search jobs"))?
            .try_collect()
            .await
            .map_err(wrap("read job search"))?;
        Ok(docs
            .into_iter()
            .filter_map(|d| match bson_to_json(Bson::Document(d)) {
                Value::Object(m) => JobSummary::from_document(&m),
                _ => None,
            })
            .collect())
    }

    async fn append_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        self.audit
            .insert_one(doc! {
                "at": date(e.at), "at_ms": millis(e.at), "request_id": &e.request_id, "actor": &e.actor,
                "client": &e.client, "method": &e.method, "path": &e.path, "route": &e.route,
                "status": i64::from(e.status), "outcome": &e.outcome, "code": e.code.as_deref(),
            })
            .await
            .map_err(wrap("append audit entry"))?;
        Ok(())
    }

    async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let docs: Vec<Document> = self
            .audit
            .find(doc! {})
            .sort(doc! {"at_ms": -1, "_id": -1})
            .limit(limit as i64)
            .await
            .map_err(wrap("read audit trail"))?
            .try_collect()
            .await
            .map_err(wrap("read audit trail"))?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                Some(AuditEntry {
                    at: get_time(d, "at")?,
                    request_id: get_str(d, "request_id")?,
                    actor: get_str(d, "actor")?,
                    client: get_str(d, "client").unwrap_or_default(),
                    method: get_str(d, "method")?,
                    path: get_str(d, "path")?,
                    route: get_str(d, "route").unwrap_or_default(),
                    status: get_int(d, "status") as u16,
                    outcome: get_str(d, "outcome")?,
                    code: get_str(d, "code"),
                })
            })
            .collect())
    }

    async fn purge_audit(&self, before: DateTime<Utc>, keep: usize) -> Result<u64, StoreError> {
        let mut removed = self
            .audit
            .delete_many(doc! {"at_ms": {"$lt": millis(before)}})
            .await
            .map_err(wrap("purge audit trail"))?
            .deleted_count;
        let boundary = self
            .audit
            .find_one(doc! {})
            .sort(doc! {"at_ms": -1, "_id": -1})
            .skip(keep as u64)
            .await
            .map_err(wrap("find audit boundary"))?;
        if let Some(b) = boundary {
            removed += self
                .audit
                .delete_many(doc! {"at_ms": {"$lte": get_int(&b, "at_ms")}})
                .await
                .map_err(wrap("trim audit trail"))?
                .deleted_count;
        }
        Ok(removed)
    }

    async fn set_job_fields(&self, id: &JobId, fields: &[(String, FieldValue)]) -> Result<(), StoreError> {
        let set = set_document(fields.to_vec())?;
        let res = self
            .jobs
            .update_one(doc! {"_id": oid(id)?}, doc! {"$set": set})
            .await
            .map_err(wrap("set job fields"))?;
        if res.matched_count == 0 {
            return Err(StoreError::JobNotFound(id.clone()));
        }
        Ok(())
    }

    async fn record_delivery(&self, d: &WebhookDelivery) -> Result<(), StoreError> {
        let id = format!("{}:{}:{}", d.run_id, d.delivery_id, d.attempt);
        self.deliveries
            .replace_one(
                doc! {"_id": &id},
                doc! {"_id": &id, "run_id": d.run_id.to_string(), "target": &d.target, "delivery_id": &d.delivery_id,
                "attempt": i64::from(d.attempt), "at": date(d.at), "at_ms": millis(d.at),
                "status": d.status.map(i64::from), "error": d.error.as_deref(),
                "duration_ms": d.duration_ms as i64, "delivered": d.delivered},
            )
            .upsert(true)
            .await
            .map_err(wrap("record webhook delivery"))?;
        Ok(())
    }

    async fn deliveries(&self, run: &RunId) -> Result<Vec<WebhookDelivery>, StoreError> {
        let docs: Vec<Document> = self
            .deliveries
            .find(doc! {"run_id": run.to_string()})
            .sort(doc! {"at_ms": 1, "attempt": 1})
            .await
            .map_err(wrap("read webhook deliveries"))?
            .try_collect()
            .await
            .map_err(wrap("read webhook deliveries"))?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                Some(WebhookDelivery {
                    run_id: run.clone(),
                    delivery_id: get_str(d, "delivery_id")?,
                    attempt: get_int(d, "attempt") as u32,
                    at: get_time(d, "at")?,
                    status: u16::try_from(get_int(d, "status")).ok().filter(|s| *s > 0),
                    error: get_str(d, "error"),
                    duration_ms: get_int(d, "duration_ms") as u64,
                    delivered: d.get_bool("delivered").unwrap_or(false),
                    target: get_str(d, "target").unwrap_or_else(|| "completion".into()),
                })
            })
            .collect())
    }

    async fn purge_job(&self, job: &JobId, with_job: bool) -> Result<JobPurge, StoreError> {
        let active = self
            .runs
            .count_documents(doc! {"job_id": job.to_string(), "status": {"$in": ["queued", "running"]}})
            .await
            .map_err(wrap("count active runs of a job"))?;
        if active > 0 {
            return Err(StoreError::Conflict(format!(
                "job {job} has a queued or running run; cancel it first"
            )));
        }
        let docs: Vec<Document> = self
            .runs
            .find(doc! {"job_id": job.to_string()})
            .sort(doc! {"created_ms": 1})
            .await
            .map_err(wrap("find runs of a job"))?
            .try_collect()
            .await
            .map_err(wrap("read runs of a job"))?;
        let ids: Vec<String> = docs.iter().filter_map(|d| get_str(d, "_id")).collect();
        // The runs' data first, the runs last: an interrupted erasure is finished by running it again.
        let mut out = if ids.is_empty() {
            JobPurge::default()
        } else {
            self.delete_run_data(&ids).await?
        };
        self.runs
            .delete_many(doc! {"job_id": job.to_string()})
            .await
            .map_err(wrap("erase runs of a job"))?;
        if with_job {
            out.job_document = self
                .jobs
                .delete_one(doc! {"_id": oid(job)?})
                .await
                .map_err(wrap("erase job document"))?
                .deleted_count
                > 0;
        }
        out.runs = ids
            .iter()
            .map(|i| RunId::parse(i).map_err(StoreError::Corrupt))
            .collect::<Result<_, _>>()?;
        Ok(out)
    }
}

impl MongoStore {
    /// LLM call records matching `filter`, oldest first.
    async fn find_llm_calls(&self, filter: Document) -> Result<Vec<LlmCall>, StoreError> {
        let docs: Vec<Document> = self
            .llm_calls
            .find(filter)
            .sort(doc! {"at_ms": 1, "_id": 1})
            .await
            .map_err(wrap("llm calls"))?
            .try_collect()
            .await
            .map_err(wrap("llm calls"))?;
        Ok(docs
            .iter()
            .filter_map(|d| {
                Some(LlmCall {
                    run_id: RunId::parse(&get_str(d, "run_id")?).ok()?,
                    stage: get_str(d, "stage")?.parse().ok()?,
                    provider: get_str(d, "provider").unwrap_or_default(),
                    model: get_str(d, "model").unwrap_or_default(),
                    input_tokens: get_int(d, "input_tokens") as u64,
                    output_tokens: get_int(d, "output_tokens") as u64,
                    cost_usd: match d.get("cost_usd") {
                        Some(Bson::Double(v)) => Some(*v),
                        _ => None,
                    },
                    latency_ms: get_int(d, "latency_ms") as u64,
                    outcome: CallOutcome::parse(&get_str(d, "outcome")?)?,
                    at: get_time(d, "at").unwrap_or_else(Utc::now),
                    prompt: get_str(d, "prompt").unwrap_or_default(),
                    turn: get_int(d, "turn") as u32,
                    detail: get_str(d, "detail"),
                })
            })
            .collect())
    }
}

/// True when a bulk insert failed only because some documents already existed.
fn only_duplicate_keys(e: &mongodb::error::Error) -> bool {
    use mongodb::error::ErrorKind;
    match &*e.kind {
        ErrorKind::InsertMany(ie) => {
            ie.write_concern_error.is_none()
                && ie
                    .write_errors
                    .as_ref()
                    .is_some_and(|w| w.iter().all(|w| w.code == 11000))
        }
        _ => false,
    }
}
