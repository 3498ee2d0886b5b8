//! The contract on the embedded SQLite backend (a real file in a temp dir).

use std::sync::Arc;

use job_runner::store::sqlite::SqliteStore;
use job_runner::store::DynStore;

/// A fresh store; the temp dir lives as long as the returned guard.
pub async fn setup() -> (DynStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    (Arc::new(store), dir)
}

store_contract_tests!(setup);

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    use job_runner::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let job = crate::contract::job(1);
    {
        let store = SqliteStore::open(dir.path()).await.unwrap();
        store.upsert_job(&job).await.unwrap();
    }
    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert_eq!(store.get_job(&job.id).await.unwrap().unwrap(), job);
}

/// SQLite keeps no artifacts: the files stay in the runner's data folder.
#[tokio::test]
async fn sqlite_keeps_artifacts_on_disk_not_in_the_store() {
    use job_runner::store::{Store, StoredArtifact};
    let dir = tempfile::tempdir().unwrap();
    let store = job_runner::store::sqlite::SqliteStore::open(dir.path()).await.unwrap();
    assert!(!store.keeps_artifacts());
    let run = job_runner::domain::RunId::generate();
    let job = job_runner::domain::JobId::parse("65a1b2c3d4e5f60718293a4b").unwrap();
    store
        .put_artifact(&StoredArtifact::new(run.clone(), job, "CV.md", b"x".to_vec()))
        .await
        .unwrap();
    assert!(store.get_artifact(&run, "CV.md").await.unwrap().is_none());
}

/// A data folder migrated by a newer job-runner is refused, not half-read.
#[tokio::test]
async fn a_data_folder_from_a_newer_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(job_runner::store::sqlite::SqliteStore::open(dir.path()).await.unwrap());
    let db = dir.path().join("job-runner.sqlite3");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (999, '2030-01-01T00:00:00Z')",
        [],
    )
    .unwrap();
    drop(conn);
    let err = job_runner::store::sqlite::SqliteStore::open(dir.path())
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string()
            .contains("schema version 999, newer than this job-runner knows"),
        "{err}"
    );
}
