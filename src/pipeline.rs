//! The job intelligence pipeline: six stages over a dependency graph
//! (pain points ∥ research → fit score → CV ∥ cover letter → publisher), their typed
//! outputs, the quality gates every output must pass, the offline implementations and
//! the LLM paths that fall back to them.

pub mod admission;
pub mod assisted;
pub mod builtin_stages;
pub mod cancellation;
pub mod dag;
pub mod execution;
pub mod fact_check;
pub mod gates;
pub mod lifecycle;
pub mod master_cv;
pub mod offline;
pub mod profile;
pub mod reuse;
pub mod stage_contract;
pub mod step_markers;
#[cfg(test)]
pub mod test_fixtures;
pub mod text;
pub mod tiers;
