//! The dashboard's step tracker, spoken to in its words. The deployed dashboard moves a
//! seven-step tracker (intake, pain points, company research, role research, fit scoring,
//! people mapping, CV and outreach) by matching the old runner's log vocabulary
//! (`LAYER 2: pain_point_miner: ...`, `✓ Layer 3 ...`, `Pipeline complete`; see
//! `COMPAT-DASHBOARD.md` §2). The tracker only moves forward, while our stages run as a
//! graph (research beside the pain points), so completions are announced with the explicit
//! `✓ Layer N` marker, in the tracker's order, as soon as every earlier step is done.
//!
//! The lines read well to a person too, and avoid words the tracker would misread (a line
//! about a step that says "error" marks it failed).

use std::collections::BTreeSet;

use crate::domain::StageName;

/// The tracker's steps, in its order (1-based numbers are the marker's).
pub const STEPS: [&str; 7] = [
    "intake",
    "pain_points",
    "company_research",
    "role_research",
    "fit_scoring",
    "people_mapping",
    "cv_outreach_generation",
];

/// The lines a stage's start is announced with (the first carries `stage <name> started`,
/// which our own tools and tests follow).
pub fn start_lines(stage: StageName, retry: Option<(u32, u32)>) -> Vec<String> {
    let ours = match retry {
        None => format!("stage {stage} started"),
        Some((n, of)) => format!("stage {stage} started (retry {n} of {of})"),
    };
    match stage {
        StageName::Extract => vec![format!(
            "LAYER 1: jd_extractor: Extracting the job description ({ours})"
        )],
        StageName::PainPoints => vec![format!("LAYER 2: pain_point_miner: Mining pain points ({ours})")],
        StageName::Research => vec![
            format!("LAYER 3: company_researcher: Researching the company ({ours})"),
            "LAYER 4: role_researcher: Researching the role".to_owned(),
            "people_mapper: Searching for the people to address".to_owned(),
        ],
        StageName::FitScore => vec![format!("LAYER 5: fit_scorer: Analyzing the fit ({ours})")],
        StageName::Cv => vec![format!("LAYER 6: cv_generator: Generating the tailored CV ({ours})")],
        StageName::CvReview => vec![format!("LAYER 6: cv_reviewer: Reviewing the tailored CV ({ours})")],
        StageName::CoverLetter => vec![format!(
            "LAYER 6: cover_letter_generator: Generating the cover letter ({ours})"
        )],
        StageName::Publisher => vec![format!("LAYER 7: publisher: Writing the application package ({ours})")],
    }
}

/// The steps a stage completes.
fn steps_of(stage: StageName) -> &'static [usize] {
    match stage {
        // Intake (step 1) is done once the job and the master CV are loaded.
        StageName::Extract => &[],
        StageName::PainPoints => &[2],
        StageName::Research => &[3, 4, 6],
        StageName::FitScore => &[5],
        // The CV, its review and the cover letter together make step 7.
        StageName::Cv | StageName::CvReview | StageName::CoverLetter => &[],
        StageName::Publisher => &[],
    }
}

/// Announces completed steps in the tracker's order.
#[derive(Debug, Default)]
pub struct StepAnnouncer {
    done: BTreeSet<usize>,
    stages: BTreeSet<StageName>,
    /// The highest step announced; every step up to it has been.
    announced: usize,
}

impl StepAnnouncer {
    /// Intake is done (the job and the master CV are loaded); returns the marker lines due.
    pub fn intake_done(&mut self) -> Vec<String> {
        self.done.insert(1);
        self.due()
    }

    /// `stage` is done (checkpointed now, or earlier when resuming); returns the marker
    /// lines due, in order.
    pub fn stage_done(&mut self, stage: StageName) -> Vec<String> {
        self.stages.insert(stage);
        self.done.extend(steps_of(stage));
        if self.stages.contains(&StageName::Cv) && self.stages.contains(&StageName::CoverLetter) {
            self.done.insert(7);
        }
        self.due()
    }

    fn due(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while self.done.contains(&(self.announced + 1)) {
            self.announced += 1;
            lines.push(format!(
                "✓ Layer {} {} complete",
                self.announced,
                STEPS[self.announced - 1]
            ));
        }
        lines
    }
}

/// The run's last line for the tracker.
pub fn run_end_line(completed: bool, reason: Option<&str>) -> String {
    if completed {
        "Pipeline complete".to_owned()
    } else {
        format!("Pipeline failed: {}", reason.unwrap_or("the run did not finish"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_announced_in_order_whatever_order_the_stages_finish_in() {
        let mut a = StepAnnouncer::default();
        assert_eq!(a.intake_done(), vec!["✓ Layer 1 intake complete"]);
        // Research finishes first: nothing until the pain points are done.
        assert!(a.stage_done(StageName::Research).is_empty());
        assert_eq!(
            a.stage_done(StageName::PainPoints),
            vec![
                "✓ Layer 2 pain_points complete",
                "✓ Layer 3 company_research complete",
                "✓ Layer 4 role_research complete"
            ]
        );
        assert_eq!(
            a.stage_done(StageName::FitScore),
            vec!["✓ Layer 5 fit_scoring complete", "✓ Layer 6 people_mapping complete"]
        );
        assert!(a.stage_done(StageName::Cv).is_empty());
        assert_eq!(
            a.stage_done(StageName::CoverLetter),
            vec!["✓ Layer 7 cv_outreach_generation complete"]
        );
        assert!(a.stage_done(StageName::Publisher).is_empty());
    }

    #[test]
    fn every_start_line_names_its_stage_for_our_own_readers() {
        for stage in StageName::ALL {
            let lines = start_lines(stage, None);
            assert!(lines[0].contains(&format!("stage {stage} started")), "{lines:?}");
            for line in &lines {
                let lower = line.to_lowercase();
                assert!(!lower.contains("error") && !lower.contains("fail"), "{line}");
            }
        }
        assert!(start_lines(StageName::Cv, Some((1, 2)))[0].contains("stage cv started (retry 1 of 2)"));
    }
}
