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
