//! The stages' LLM paths: each builds its prompt from versioned prompt files, asks the
//! stage's model for the stage's typed output, and validates the answer with the same
//! quality gate the offline output must pass (plus checks only a model needs: grounding in
//! the posting, evidence in the CV, sources for signals). An `Err` tells the stage to fall
//! back to its offline implementation; nothing here can fail a run.

pub mod cover_letter;
pub mod cv;
pub mod cv_review;
pub mod extract;
pub mod fit_score;
pub mod outreach;
pub mod pain_points;
pub mod research;

/// A list as prompt text, one `- item` per line.
pub fn bullet_list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items
        .into_iter()
        .map(|i| format!("- {i}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A validator's answer from its list of problems: none → accepted.
pub fn verdict(problems: Vec<String>) -> Result<(), Vec<String>> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
