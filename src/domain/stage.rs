//! Stage identities and the per-stage record that makes runs resumable.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The eight stages of the job intelligence pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageName {
    /// Reads the posting into its structured parts (`extracted_jd`): role category,
    /// seniority, responsibilities, qualifications, skills, keywords.
    Extract,
    /// Mines pain points, strategic needs, risks and success metrics from the posting.
    PainPoints,
    /// Company and role research (plus role-based contacts).
    Research,
    /// Scores the candidate's fit against the posting.
    FitScore,
    /// Tailors the master CV.
    Cv,
    /// A hiring manager's first read of the tailored CV against the posting.
    CvReview,
    /// Writes the cover letter.
    CoverLetter,
    /// Writes the artifacts and the job document's result fields.
    Publisher,
}

impl StageName {
    /// Every stage in pipeline order.
    pub const ALL: [StageName; 8] = [
        StageName::Extract,
        StageName::PainPoints,
        StageName::Research,
        StageName::FitScore,
        StageName::Cv,
        StageName::CvReview,
        StageName::CoverLetter,
        StageName::Publisher,
    ];

    /// The stable name used in logs, the store and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            StageName::Extract => "extract",
            StageName::PainPoints => "pain_points",
            StageName::Research => "research",
            StageName::FitScore => "fit_score",
            StageName::Cv => "cv",
            StageName::CvReview => "cv_review",
            StageName::CoverLetter => "cover_letter",
            StageName::Publisher => "publisher",
        }
    }

    /// Stages whose output this stage reads; it starts only after all of them finished.
    pub fn dependencies(self) -> &'static [StageName] {
        use StageName::*;
        match self {
            Extract | Research => &[],
            PainPoints => &[Extract],
            FitScore => &[Extract, PainPoints],
            Cv => &[Extract, PainPoints, FitScore],
            CvReview => &[Extract, Cv],
            CoverLetter => &[PainPoints, Research, FitScore],
            Publisher => &[Extract, PainPoints, Research, FitScore, Cv, CvReview, CoverLetter],
        }
    }
}

impl StageName {
    /// The stages grouped by depth in the graph: a stage's layer is one past its deepest
    /// dependency's, so the stages of one layer can run at the same time.
    pub fn layers() -> Vec<Vec<StageName>> {
        let mut depth: Vec<(StageName, usize)> = Vec::new();
        for stage in StageName::ALL {
            let d = stage
                .dependencies()
                .iter()
                .filter_map(|dep| depth.iter().find(|(s, _)| s == dep).map(|(_, d)| d + 1))
                .max()
                .unwrap_or(0);
            depth.push((stage, d));
        }
        let deepest = depth.iter().map(|(_, d)| *d).max().unwrap_or(0);
        (0..=deepest)
            .map(|l| depth.iter().filter(|(_, d)| *d == l).map(|(s, _)| *s).collect())
            .collect()
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
    fn layers_follow_the_dependencies() {
        use StageName::*;
        assert_eq!(
            StageName::layers(),
            vec![
                vec![Extract, Research],
                vec![PainPoints],
                vec![FitScore],
                vec![Cv, CoverLetter],
                vec![CvReview],
                vec![Publisher]
            ]
        );
    }

    #[test]
    fn names_round_trip() {
        for st in StageName::ALL {
            assert_eq!(st.as_str().parse::<StageName>().unwrap(), st);
        }
    }
}
