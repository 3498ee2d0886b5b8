//! The contract on the MongoDB backend, against the wire server the test command starts
//! (`scripts/test.sh` exports `JOB_RUNNER_TEST_MONGO_URI`). Each test gets its own database.

use std::sync::Arc;
use std::time::Duration;

use job_runner::store::mongo::{MongoConfig, MongoStore};
use job_runner::store::DynStore;

/// The server's URI; the suite fails loudly without one rather than passing vacuously.
pub fn mongo_uri() -> String {
    std::env::var("JOB_RUNNER_TEST_MONGO_URI")
        .expect("JOB_RUNNER_TEST_MONGO_URI is not set: run scripts/test.sh, which starts the MongoDB wire server")
}

/// A configuration with a fresh database name.
pub fn fresh_config() -> MongoConfig {
    MongoConfig {
        database: format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        // nx-27017 refuses `-` in collection names; production uses `level-2` (docs/testing.md).
        jobs_collection: "level_2".into(),
        prefix: "runner_".into(),
        server_selection_timeout: Duration::from_secs(5),
    }
}

pub async fn setup() -> (DynStore, ()) {
    let store = MongoStore::connect(&mongo_uri(), &fresh_config())
        .await
        .expect("connects to the wire server");
    (Arc::new(store), ())
}

store_contract_tests!(setup);

/// nx-27017 stores a top-level `$set` date as text, so this checks what job-runner *sends*
/// (with the driver's command monitoring): every timestamp of a job update is a BSON date.
#[tokio::test]
async fn job_status_timestamps_are_sent_as_bson_dates() {
    use std::sync::Mutex;

    use chrono::Utc;
    use job_runner::domain::RunId;
    use job_runner::store::{JobUpdate, Store};
    use mongodb::bson::{Bson, Document};
    use mongodb::event::command::CommandEvent;
    use mongodb::event::EventHandler;
    use mongodb::options::ClientOptions;

    let sent: Arc<Mutex<Vec<Document>>> = Arc::default();
    let mut options = ClientOptions::parse(mongo_uri()).await.unwrap();
    let sink = Arc::clone(&sent);
    options.command_event_handler = Some(EventHandler::callback(move |ev: CommandEvent| {
        if let CommandEvent::Started(started) = ev {
            if started.command_name == "update" {
                sink.lock().unwrap().push(started.command.clone());
            }
        }
    }));
    let store = MongoStore::with_options(options, &fresh_config()).await.unwrap();
    let job = crate::contract::job(1);
    store.upsert_job(&job).await.unwrap();
    sent.lock().unwrap().clear();
    let now = Utc::now();
    let update = JobUpdate {
        run_id: RunId::generate(),
        pipeline_status: job_runner::domain::RunStatus::Failed,
        started_at: Some(now),
        updated_at: now,
        completed_at: Some(now),
        failure: Some(("boom".into(), now)),
        artifact_urls: Some(Default::default()),
        results: None,
        run_entry: None,
    };
    store.update_job(&job.id, &update).await.unwrap();
    let commands = sent.lock().unwrap().clone();
    assert_eq!(commands.len(), 1, "{commands:?}");
    let updates = commands[0].get_array("updates").unwrap();
    let one = updates[0].as_document().unwrap();
    assert!(
        !one.get_bool("upsert").unwrap_or(false),
        "job documents are never upserted by a run"
    );
    let set = one.get_document("u").unwrap().get_document("$set").unwrap();
    for field in [
        "pipeline_started_at",
        "pipeline_updated_at",
        "updatedAt",
        "pipeline_completed_at",
        "pipeline_failed_at",
    ] {
        assert!(
            matches!(set.get(field), Some(Bson::DateTime(_))),
            "{field} is not sent as a BSON date: {set}"
        );
    }
    assert_eq!(set.get_str("pipeline_status").unwrap(), "pipeline_failed");
    assert_eq!(set.get_str("pipeline_error").unwrap(), "boom");
}

/// Finished runs' files live in a bucket of GridFS's layout named with the collection
/// prefix, with their run, job, name, size and SHA-256 as metadata; a re-publish replaces
/// the file; chunks are reassembled in order.
#[tokio::test]
async fn artifacts_are_kept_in_a_gridfs_layout_bucket_with_their_metadata() {
    use job_runner::domain::{JobId, RunId};
    use job_runner::store::StoredArtifact;
    let config = fresh_config();
    let store = MongoStore::connect(&mongo_uri(), &config).await.unwrap();
    use job_runner::store::Store;
    assert!(store.keeps_artifacts());
    let run = RunId::generate();
    let job = JobId::parse("65a1b2c3d4e5f60718293a4b").unwrap();
    // Larger than one GridFS chunk (255 KiB), bytes of every value.
    let bytes: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    let first = StoredArtifact::new(run.clone(), job.clone(), "CV.docx", bytes);
    store.put_artifact(&first).await.unwrap();
    let got = store.get_artifact(&run, "CV.docx").await.unwrap().unwrap();
    assert_eq!(got, first);
    assert_eq!(got.sha256.len(), 64);
    let second = StoredArtifact::new(run.clone(), job.clone(), "CV.docx", b"replaced".to_vec());
    store.put_artifact(&second).await.unwrap();
    assert_eq!(store.get_artifact(&run, "CV.docx").await.unwrap().unwrap(), second);
    assert!(store.get_artifact(&run, "CV.md").await.unwrap().is_none());
    assert!(store
        .get_artifact(&RunId::generate(), "CV.docx")
        .await
        .unwrap()
        .is_none());
    // The bucket's files collection carries the metadata, under the configured prefix.
    let client = mongodb::Client::with_uri_str(mongo_uri()).await.unwrap();
    let files = client
        .database(&config.database)
        .collection::<mongodb::bson::Document>(&format!("{}artifacts_files", config.prefix));
    let meta = files.find_one(mongodb::bson::doc! {}).await.unwrap().unwrap();
    let meta = meta.get_document("metadata").unwrap();
    assert_eq!(meta.get_str("run_id").unwrap(), run.to_string());
    assert_eq!(meta.get_str("job_id").unwrap(), job.to_string());
    assert_eq!(meta.get_str("name").unwrap(), "CV.docx");
    let size = meta
        .get_i64("size")
        .or_else(|_| meta.get_i32("size").map(i64::from))
        .unwrap();
    assert_eq!(size, 8);
    assert_eq!(meta.get_str("sha256").unwrap(), second.sha256);
    let chunks = client
        .database(&config.database)
        .collection::<mongodb::bson::Document>(&format!("{}artifacts_chunks", config.prefix));
    assert_eq!(
        chunks.count_documents(mongodb::bson::doc! {}).await.unwrap(),
        1,
        "the replaced file's three chunks are gone"
    );
}

/// Rolling upgrades: the schema version is recorded at start-up; a binary of the previous
/// version still shares the store (the new schema is readable from it), one that cannot
/// read the store's schema is refused with the reason.
#[tokio::test]
async fn a_store_newer_than_the_binary_is_refused_and_an_older_binary_still_shares_it() {
    use job_runner::store::mongo::{SCHEMA_READABLE_FROM, SCHEMA_VERSION};
    use job_runner::store::StoreError;
    let config = fresh_config();
    let store = MongoStore::connect(&mongo_uri(), &config).await.unwrap();
    let client = mongodb::Client::with_uri_str(mongo_uri()).await.unwrap();
    let meta = client
        .database(&config.database)
        .collection::<mongodb::bson::Document>(&format!("{}meta", config.prefix));
    let doc = meta
        .find_one(mongodb::bson::doc! {"_id": "schema"})
        .await
        .unwrap()
        .unwrap();
    let n = |k: &str| doc.get_i64(k).or_else(|_| doc.get_i32(k).map(i64::from)).unwrap();
    assert_eq!(
        (n("version"), n("readable_from")),
        (i64::from(SCHEMA_VERSION), i64::from(SCHEMA_READABLE_FROM))
    );
    // The previous binary (it reads up to SCHEMA_VERSION - 1) may keep working.
    store
        .check_schema(SCHEMA_VERSION - 1, SCHEMA_READABLE_FROM)
        .await
        .expect("an additive change keeps older runners working");
    // A future binary made an incompatible change.
    meta.replace_one(
        mongodb::bson::doc! {"_id": "schema"},
        mongodb::bson::doc! {"_id": "schema", "version": 9_i64, "readable_from": 9_i64},
    )
    .await
    .unwrap();
    let err = MongoStore::connect(&mongo_uri(), &config).await.err().expect("refused");
    assert!(
        matches!(err, StoreError::SchemaTooNew { store: 9, needs: 9, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade job-runner"), "{err}");
}

/// Three runners (three clients, two claim loops each) claim as fast as they can with
/// `GLOBAL_MAX_CONCURRENCY` 2: whenever a claim succeeds, the store shows at most two runs
/// running, and every run is done once.
#[tokio::test]
async fn racing_runners_never_exceed_the_global_cap() {
    use job_runner::domain::{JobId, Run, RunStatus};
    use job_runner::store::{RunFinish, Store};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let config = fresh_config();
    let mut runners = Vec::new();
    for _ in 0..3 {
        runners.push(Arc::new(MongoStore::connect(&mongo_uri(), &config).await.unwrap()));
    }
    let runs: Vec<Run> = (0..15)
        .map(|i| Run::new_queued(JobId::parse(&format!("{:024x}", 100 + i)).unwrap(), None, None))
        .collect();
    runners[0].insert_runs(&runs).await.unwrap();
    let (held, peak, done) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let mut tasks = Vec::new();
    for (r, store) in runners.iter().enumerate() {
        for lane in 0..2 {
            let (store, held, peak, done) = (store.clone(), held.clone(), peak.clone(), done.clone());
            let owner = format!("runner-{r}-{lane}");
            tasks.push(tokio::spawn(async move {
                let mut idle = 0;
                while done.load(Ordering::SeqCst) < 15 && idle < 400 {
                    match store
                        .claim_next_run_within(&owner, Duration::from_secs(30), 2)
                        .await
                        .unwrap()
                    {
                        Some(run) => {
                            idle = 0;
                            // What the store says is running, while this run holds its slot.
                            let running = store.count_runs(RunStatus::Running).await.unwrap() as usize;
                            peak.fetch_max(running, Ordering::SeqCst);
                            held.fetch_add(1, Ordering::SeqCst);
                            let finish = RunFinish {
                                status: RunStatus::Completed,
                                error: None,
                                artifacts: Default::default(),
                                at: chrono::Utc::now(),
                                cost_usd: None,
                            };
                            assert!(store.finish_run(&run.run_id, &owner, &finish).await.unwrap());
                            done.fetch_add(1, Ordering::SeqCst);
                        }
                        None => {
                            idle += 1;
                            tokio::task::yield_now().await;
                        }
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), 15, "every run done once");
    assert_eq!(held.load(Ordering::SeqCst), 15);
    assert!(peak.load(Ordering::SeqCst) <= 2, "peak {}", peak.load(Ordering::SeqCst));
    assert_eq!(runners[0].count_runs(RunStatus::Completed).await.unwrap(), 15);
}

/// Retention removes a purged run's stored files with it.
#[tokio::test]
async fn purging_a_run_removes_its_stored_files() {
    use job_runner::domain::{JobId, Run, RunStatus};
    use job_runner::store::{RunFinish, Store, StoredArtifact};
    let store = MongoStore::connect(&mongo_uri(), &fresh_config()).await.unwrap();
    let job = JobId::parse("65a1b2c3d4e5f60718293a4b").unwrap();
    store
        .insert_runs(&[Run::new_queued(job.clone(), None, None)])
        .await
        .unwrap();
    let run = store
        .claim_next_run("owner", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let long_ago = chrono::Utc::now() - chrono::Duration::days(100);
    let finish = RunFinish {
        status: RunStatus::Completed,
        error: None,
        artifacts: Default::default(),
        at: long_ago,
        cost_usd: None,
    };
    assert!(store.finish_run(&run.run_id, "owner", &finish).await.unwrap());
    store
        .put_artifact(&StoredArtifact::new(run.run_id.clone(), job, "CV.md", vec![7; 300_000]))
        .await
        .unwrap();
    assert!(store.get_artifact(&run.run_id, "CV.md").await.unwrap().is_some());
    let purged = store
        .purge_finished_runs(chrono::Utc::now() - chrono::Duration::days(30), 10)
        .await
        .unwrap();
    assert_eq!(purged, std::slice::from_ref(&run.run_id));
    assert!(store.get_artifact(&run.run_id, "CV.md").await.unwrap().is_none());
    assert!(store.get_run(&run.run_id).await.unwrap().is_none());
}
