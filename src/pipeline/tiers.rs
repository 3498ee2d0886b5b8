//! A run's processing tier, resolved when it starts: the class whose models its stages use
//! (`fast`, `balanced`, `quality`; A = quality, B = balanced, C and D = fast) and how many
//! contacts its research keeps. `auto` is decided by the job's latest fit score (≥ 85 A,
//! ≥ 70 B, ≥ 50 C, else D); a run without a tier is balanced and keeps every contact.

use crate::config::{Settings, TierClass};
use crate::domain::{Run, StageName, Tier};
use crate::runlog::RunLog;
use crate::store::DynStore;

/// The tier a run works in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunTier {
    pub class: TierClass,
    /// Contacts research keeps; `None`: all of them.
    pub contacts: Option<usize>,
}

impl Default for RunTier {
    fn default() -> Self {
        Self {
            class: TierClass::Balanced,
            contacts: None,
        }
    }
}

fn class_of(tier: Tier) -> TierClass {
    match tier.class_name() {
        Some("fast") => TierClass::Fast,
        Some("quality") => TierClass::Quality,
        _ => TierClass::Balanced,
    }
}

/// Resolves `run`'s requested tier (see the module docs), saying what it chose.
pub async fn resolve(store: &DynStore, settings: &Settings, run: &Run, log: &RunLog) -> RunTier {
    let Some(requested) = run.processing_tier.as_deref().and_then(|t| Tier::parse(t).ok()) else {
        return RunTier::default();
    };
    let tier = if requested == Tier::Auto {
        let score = store
            .latest_stage_output(&run.job_id, StageName::FitScore, &run.run_id)
            .await
            .ok()
            .flatten()
            .and_then(|(_, rec)| rec.output?.get("fit_score")?.as_u64());
        match score {
            Some(s) => {
                let letter = Tier::for_fit_score(s as u32);
                log.info(format!(
                    "tier auto: the job's latest fit score is {s}, so tier {letter}"
                ));
                letter
            }
            None => {
                log.info("tier auto: the job has no fit score yet, so tier balanced");
                Tier::Balanced
            }
        }
    } else {
        requested
    };
    let class = class_of(tier);
    let row = settings.llm.tiers.get(&class);
    let contacts = tier.letter_contacts().or_else(|| row.map(|r| r.contacts));
    log.info(format!(
        "tier {tier}: {} models{}",
        class.as_str(),
        contacts.map(|n| format!(", up to {n} contact(s)")).unwrap_or_default()
    ));
    RunTier { class, contacts }
}
