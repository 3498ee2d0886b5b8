//! Operations, as the dashboard names them in `POST /api/jobs/{job_id}/operations/{op}/queue`
//! (COMPAT-DASHBOARD.md §5): every name and alias it sends, and the stages each executes. A
//! run records its operation; the stages outside it reuse the job's latest completed
//! outputs from earlier runs (see `pipeline::reuse`), and the publisher always runs after
//! it (the dossier holds every stage). The one name job-runner does not execute
//! (`prepare-annotations`: annotating is the dashboard's work) is refused with an error
//! naming the supported ones, never answered with a silent full run.

use std::fmt;

use super::StageName;

/// An operation the dashboard can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    AnalyzeJob,
    ResearchCompany,
    DiscoverContacts,
    GenerateCv,
    GenerateCoverLetter,
    GenerateOutreach,
    FullAnalysis,
    BatchPipeline,
    CvReview,
    Extract,
    PrepareAnnotations,
}

/// Why an operation name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperationError {
    /// Not a name the dashboard uses.
    #[error("Invalid operation {name:?}: the supported operations are {supported}")]
    Unknown { name: String, supported: String },
    /// A dashboard operation job-runner does not execute (yet).
    #[error("Invalid operation {name:?}: job-runner does not run this operation on its own; the supported operations are {supported}")]
    NotSupported { name: String, supported: String },
}

impl OperationError {
    /// Stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            OperationError::Unknown { .. } => "UNKNOWN_OPERATION",
            OperationError::NotSupported { .. } => "OPERATION_NOT_SUPPORTED",
        }
    }
}

impl Operation {
    /// Every operation, in the dashboard's order.
    pub const ALL: [Operation; 11] = [
        Operation::AnalyzeJob,
        Operation::ResearchCompany,
        Operation::DiscoverContacts,
        Operation::GenerateCv,
        Operation::GenerateCoverLetter,
        Operation::GenerateOutreach,
        Operation::FullAnalysis,
        Operation::BatchPipeline,
        Operation::CvReview,
        Operation::Extract,
        Operation::PrepareAnnotations,
    ];

    /// The full run: every stage.
    pub const FULL_RUN: Operation = Operation::BatchPipeline;

    /// The canonical name (stored with the run, shown in the queue).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::AnalyzeJob => "analyze-job",
            Operation::ResearchCompany => "research-company",
            Operation::DiscoverContacts => "discover-contacts",
            Operation::GenerateCv => "generate-cv",
            Operation::GenerateCoverLetter => "generate-cover-letter",
            Operation::GenerateOutreach => "generate-outreach",
            Operation::FullAnalysis => "full-analysis",
            Operation::BatchPipeline => "batch-pipeline",
            Operation::CvReview => "cv-review",
            Operation::Extract => "extract",
            Operation::PrepareAnnotations => "prepare-annotations",
        }
    }

    /// Other names the dashboard sends for the same operation.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Operation::AnalyzeJob => &["full-extraction", "process-jd"],
            Operation::FullAnalysis => &["all-ops"],
            Operation::PrepareAnnotations => &["structure-jd"],
            _ => &[],
        }
    }

    /// The stages the operation executes (besides the publisher), or `None` when job-runner
    /// does not execute it.
    pub fn stages(self) -> Option<&'static [StageName]> {
        use StageName::*;
        Some(match self {
            Operation::AnalyzeJob => &[Extract, PainPoints],
            Operation::Extract => &[Extract],
            Operation::CvReview => &[CvReview],
            Operation::ResearchCompany | Operation::DiscoverContacts | Operation::GenerateOutreach => &[Research],
            Operation::GenerateCv => &[Cv],
            Operation::GenerateCoverLetter => &[CoverLetter],
            Operation::FullAnalysis => &[Extract, PainPoints, Research, FitScore],
            Operation::BatchPipeline => &StageName::ALL,
            Operation::PrepareAnnotations => return None,
        })
    }

    /// True for the operations job-runner executes.
    pub fn is_supported(self) -> bool {
        self.stages().is_some()
    }

    /// The supported operations, for error messages.
    pub fn supported_list() -> String {
        Operation::ALL
            .into_iter()
            .filter(|op| op.is_supported())
            .map(Operation::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The operation a name or alias stands for (case-insensitive), whether or not it is
    /// supported; `None` for a name the dashboard never sends.
    pub fn lookup(raw: &str) -> Option<Operation> {
        let name = raw.trim();
        Operation::ALL.into_iter().find(|op| {
            op.as_str().eq_ignore_ascii_case(name) || op.aliases().iter().any(|a| a.eq_ignore_ascii_case(name))
        })
    }

    /// A supported operation by name or alias; the error names the supported ones.
    pub fn parse(raw: &str) -> Result<Operation, OperationError> {
        let name = super::untrusted::clip(raw.trim(), 60).into_owned();
        match Operation::lookup(raw) {
            Some(op) if op.is_supported() => Ok(op),
            Some(_) => Err(OperationError::NotSupported {
                name,
                supported: Operation::supported_list(),
            }),
            None => Err(OperationError::Unknown {
                name,
                supported: Operation::supported_list(),
            }),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve_case_insensitively() {
        for op in Operation::ALL {
            assert_eq!(Operation::lookup(op.as_str()), Some(op));
            for alias in op.aliases() {
                assert_eq!(Operation::lookup(&alias.to_uppercase()), Some(op));
            }
        }
        assert_eq!(Operation::lookup("all-ops"), Some(Operation::FullAnalysis));
        assert_eq!(Operation::lookup("make-coffee"), None);
    }

    #[test]
    fn operations_without_stages_are_refused_and_errors_name_the_supported_ones() {
        assert_eq!(Operation::parse("batch-pipeline"), Ok(Operation::BatchPipeline));
        assert_eq!(Operation::parse("generate-cv"), Ok(Operation::GenerateCv));
        assert_eq!(Operation::parse("all-ops"), Ok(Operation::FullAnalysis));
        assert_eq!(Operation::GenerateCv.stages(), Some(&[StageName::Cv][..]));
        let known = Operation::parse("prepare-annotations").unwrap_err();
        assert_eq!(known.code(), "OPERATION_NOT_SUPPORTED");
        assert!(known.to_string().contains("batch-pipeline"), "{known}");
        let unknown = Operation::parse("make-coffee").unwrap_err();
        assert_eq!(unknown.code(), "UNKNOWN_OPERATION");
        assert!(
            unknown.to_string().starts_with("Invalid operation \"make-coffee\""),
            "{unknown}"
        );
        assert!(unknown.to_string().contains("batch-pipeline"));
    }
}
