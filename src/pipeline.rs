//! The job intelligence pipeline: eight stages over a dependency graph
//! (extract → pain points → fit score → CV → CV review, research beside them, the cover
//! letter after research and the fit score, the publisher last), their typed
//! outputs, the quality gates every output must pass, the offline implementations and
//! the LLM paths that fall back to them.

pub mod admission;
pub mod assisted;
pub mod builtin_stages;
pub mod cancellation;
pub mod dag;
pub mod evidence;
pub mod execution;
pub mod fact_check;
pub mod gates;
pub mod lexicon;
pub mod lifecycle;
pub mod master_cv;
pub mod offline;
pub mod profession;
pub mod profile;
pub mod remote_publish;
pub mod retention;
pub mod reuse;
pub mod stage_contract;
pub mod step_markers;
#[cfg(test)]
pub mod test_fixtures;
pub mod text;
pub mod tiers;
