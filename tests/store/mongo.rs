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
