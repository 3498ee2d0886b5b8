//! Identifier newtypes. A [`JobId`] is the 24-hex MongoDB ObjectId of a `level-2` job
//! document; a [`RunId`] is a random 128-bit id written as 32 lowercase hex characters.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The 24-hex-character id of a job document (MongoDB ObjectId as a string).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    /// Parses a job id; upper-case hex is accepted and normalised to lower case.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.len() != 24 || !trimmed.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!(
                "job_id must be a 24-character hexadecimal ObjectId, got {:?}",
                truncate_for_message(raw)
            ));
        }
        Ok(Self(trimmed.to_ascii_lowercase()))
    }

    /// Derives a stable job id from arbitrary content (used for postings without `_id`).
    pub fn derive_from(content: &str) -> Self {
        Self(super::digest::sha256_hex(content.as_bytes(), 12))
    }
}

impl AsRef<str> for JobId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        JobId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The id of one pipeline run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// A fresh random run id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Parses a run id as produced by [`RunId::generate`].
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() != 32 || !raw.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()) {
            return Err(format!(
                "run_id must be 32 lowercase hexadecimal characters, got {:?}",
                truncate_for_message(raw)
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RunId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        RunId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The dashboard's id of a queue item: `q_` + 12 lowercase hex characters. Every run has
/// one, fixed when the run is created and stored with it, so a queue item is a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct QueueId(String);

impl QueueId {
    /// A fresh random queue id.
    pub fn generate() -> Self {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        Self(format!("q_{}", &hex[..12]))
    }

    /// The queue id given to a run stored before runs had one: derived from its run id, so
    /// every backend derives the same one.
    pub fn for_legacy_run(run: &RunId) -> Self {
        Self(format!("q_{}", &run.0[..12]))
    }

    /// Parses `q_` + 12 hex characters (upper-case hex is normalised to lower case).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let t = raw.trim();
        match t.strip_prefix("q_") {
            Some(hex) if hex.len() == 12 && hex.chars().all(|c| c.is_ascii_hexdigit()) => {
                Ok(Self(format!("q_{}", hex.to_ascii_lowercase())))
            }
            _ => Err(format!(
                "queue_id must be \"q_\" followed by 12 hexadecimal characters, got {:?}",
                truncate_for_message(raw)
            )),
        }
    }
}

impl AsRef<str> for QueueId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for QueueId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        QueueId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Keeps error messages short when a client sends a huge id.
fn truncate_for_message(raw: &str) -> String {
    super::untrusted::clip(raw, 64).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_id_accepts_object_id_hex_and_normalises_case() {
        let id = JobId::parse("65A1B2C3D4E5F60718293A4B").unwrap();
        assert_eq!(id.as_ref(), "65a1b2c3d4e5f60718293a4b");
    }

    #[test]
    fn job_id_rejects_wrong_length_and_non_hex() {
        assert!(JobId::parse("").is_err());
        assert!(JobId::parse("65a1b2c3d4e5f60718293a4").is_err());
        assert!(JobId::parse("zza1b2c3d4e5f60718293a4b").is_err());
        assert!(JobId::parse("../../../../etc/passwd00").is_err());
    }

    #[test]
    fn derived_job_ids_are_stable_and_valid() {
        let a = JobId::derive_from("posting");
        assert_eq!(a, JobId::derive_from("posting"));
        assert!(JobId::parse(a.as_ref()).is_ok());
    }

    #[test]
    fn run_id_round_trips_and_rejects_garbage() {
        let id = RunId::generate();
        assert_eq!(RunId::parse(id.as_ref()).unwrap(), id);
        assert!(RunId::parse("..%2f").is_err());
        assert!(RunId::parse(&id.as_ref().to_uppercase()).is_err());
    }

    #[test]
    fn queue_ids_are_q_and_twelve_hex() {
        let q = QueueId::generate();
        assert_eq!(QueueId::parse(q.as_ref()).unwrap(), q);
        assert_eq!(q.as_ref().len(), 14);
        assert_eq!(QueueId::parse("Q_1A2B3C4D5E6F").ok(), None, "the prefix is lower case");
        assert_eq!(QueueId::parse("q_1A2B3C4D5E6F").unwrap().as_ref(), "q_1a2b3c4d5e6f");
        for bad in [
            "",
            "q_",
            "q_1a2b3c4d5e6",
            "q_1a2b3c4d5e6f0",
            "x_1a2b3c4d5e6f",
            "q_1a2b3c4d5e6g",
        ] {
            assert!(QueueId::parse(bad).is_err(), "{bad}");
        }
        let run = RunId::parse("0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(QueueId::for_legacy_run(&run).as_ref(), "q_0123456789ab");
    }
}
