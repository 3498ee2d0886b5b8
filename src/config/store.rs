//! The `store` section: MongoDB (shared by several runners) when `MONGODB_URI` is set,
//! else the embedded SQLite file under `DATA_DIR`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::lenient;
use super::problems::{masked, secret, Problems};
use super::Secret;

/// The section as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Raw {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub mongodb_uri: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub mongodb_db: String,
    #[serde(deserialize_with = "lenient::string")]
    pub mongodb_jobs_collection: String,
    #[serde(deserialize_with = "lenient::string")]
    pub mongodb_collection_prefix: String,
    #[serde(deserialize_with = "lenient::int")]
    pub mongodb_server_selection_timeout_ms: i64,
}

/// The section, validated.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// The connection string (a secret: it may hold a password); `None` = SQLite.
    pub mongodb_uri: Option<Secret>,
    /// Database of the jobs and the runner's collections.
    pub mongodb_db: String,
    /// The dashboard's job collection.
    pub mongodb_jobs_collection: String,
    /// Prefix of the runner's own collections.
    pub mongodb_collection_prefix: String,
    /// How long a store call waits for a reachable MongoDB server.
    pub mongodb_server_selection_timeout: Duration,
}

impl StoreSettings {
    /// Validates the section.
    pub fn validate(raw: Raw, p: &mut Problems) -> Self {
        p.not_empty("MONGODB_DB", &raw.mongodb_db);
        p.not_empty("MONGODB_JOBS_COLLECTION", &raw.mongodb_jobs_collection);
        let selection = p.ranged(
            "MONGODB_SERVER_SELECTION_TIMEOUT_MS",
            raw.mongodb_server_selection_timeout_ms,
            100,
            60_000,
        ) as u64;
        Self {
            mongodb_uri: secret(raw.mongodb_uri),
            mongodb_db: raw.mongodb_db.trim().to_owned(),
            mongodb_jobs_collection: raw.mongodb_jobs_collection.trim().to_owned(),
            mongodb_collection_prefix: raw.mongodb_collection_prefix.trim().to_owned(),
            mongodb_server_selection_timeout: Duration::from_millis(selection),
        }
    }

    /// The section as `NAME = value` rows, the connection string masked.
    pub fn render(&self) -> Vec<(&'static str, String)> {
        vec![
            ("MONGODB_URI", masked(&self.mongodb_uri)),
            ("MONGODB_DB", self.mongodb_db.clone()),
            ("MONGODB_JOBS_COLLECTION", self.mongodb_jobs_collection.clone()),
            ("MONGODB_COLLECTION_PREFIX", self.mongodb_collection_prefix.clone()),
            (
                "MONGODB_SERVER_SELECTION_TIMEOUT_MS",
                self.mongodb_server_selection_timeout.as_millis().to_string(),
            ),
        ]
    }
}
