//! Stage identities and the per-stage record that makes runs resumable.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The six stages of the job intelligence pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageName {
    /// Mines pain points, strategic needs, risks and success metrics from the posting.
    PainPoints,
    /// Company and role research (plus role-based contacts).
    Research,
    /// Scores the candidate's fit against the posting.
    FitScore,
    /// Tailors the master CV.
    Cv,
    /// Writes the cover letter.
    CoverLetter,
    /// Writes the artifacts and the job document's result fields.
    Publisher,
}

impl StageName {
    /// Every stage in pipeline order.
    pub const ALL: [StageName; 6] = [
        StageName::PainPoints,
        StageName::Research,
        StageName::FitScore,
        StageName::Cv,
        StageName::CoverLetter,
        StageName::Publisher,
    ];

    /// The stable name used in logs, the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            StageName::PainPoints => "pain_points",
            StageName::Research => "research",
            StageName::FitScore => "fit_score",
            StageName::Cv => "cv",
            StageName::CoverLetter => "cover_letter",
            StageName::Publisher => "publisher",
        }
    }

    /// Stages whose output this stage reads; it starts only after all of them finished.
    pub fn dependencies(self) -> &'static [StageName] {
        use StageName::*;
        match self {
            PainPoints | Research => &[],
            FitScore => &[PainPoints],
            Cv => &[PainPoints, FitScore],
            CoverLetter => &[PainPoints, Research, FitScore],
            Publisher => &[PainPoints, Research, FitScore, Cv, CoverLetter],
        }
    }
}

impl fmt::Display for StageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StageName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        StageName::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown stage {s:?}"))
    }
}

/// Where a stage is in its life within one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// Not started yet.
    Pending,
    /// Started, no output saved yet.
    Running,
    /// Output checkpointed.
    Completed,
    /// Gave up (the run failed with it).
    Failed,
}

impl StageStatus {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            StageStatus::Pending => "pending",
            StageStatus::Running => "running",
            StageStatus::Completed => "completed",
            StageStatus::Failed => "failed",
        }
    }
}

impl FromStr for StageStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(StageStatus::Pending),
            "running" => Ok(StageStatus::Running),
            "completed" => Ok(StageStatus::Completed),
            "failed" => Ok(StageStatus::Failed),
            other => Err(format!("unknown stage status {other:?}")),
        }
    }
}

/// Which implementation produced a stage's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageProducer {
    /// The deterministic, no-network implementation.
    Offline,
    /// A language model.
    Llm,
    /// The offline implementation, after the model could not give a valid output (budget
    /// spent, provider failing, circuit open, answers rejected by the gate).
    OfflineFallback,
    /// Not executed: an operation that does not include the stage took its latest
    /// completed output for the same job from an earlier run.
    Reused,
}

impl StageProducer {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            StageProducer::Offline => "offline",
            StageProducer::Llm => "llm",
            StageProducer::OfflineFallback => "offline_fallback",
            StageProducer::Reused => "reused",
        }
    }

    /// Reads a stored name; anything unknown counts as offline.
    pub fn from_stored(s: &str) -> Self {
        match s {
            "llm" => StageProducer::Llm,
            "offline_fallback" => StageProducer::OfflineFallback,
            "reused" => StageProducer::Reused,
            _ => StageProducer::Offline,
        }
    }
}

/// A stage's record within a run: its status, timings and (once completed) its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// Which stage.
    pub stage: StageName,
    /// Where it is.
    pub status: StageStatus,
    /// When the last attempt started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it completed or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// Wall time of the successful (or last) attempt.
    pub duration_ms: Option<u64>,
    /// Number of executions of this stage across retries and restarts.
    pub attempts: u32,
    /// Who produced the output.
    pub producer: Option<StageProducer>,
    /// The model that wrote it, when a model did.
    pub model: Option<String>,
    /// The earlier run whose output this run reused (producer `reused`).
    pub source_run: Option<crate::domain::RunId>,
    /// The checkpointed output (JSON of the stage's typed output).
    pub output: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_only_point_backwards() {
        for st in StageName::ALL {
            for dep in st.dependencies() {
                assert!(dep < &st, "{st} depends on later stage {dep}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for st in StageName::ALL {
            assert_eq!(st.as_str().parse::<StageName>().unwrap(), st);
        }
    }
}
