//! Run logs: the line, its level, the events a follower receives, the [`RunLog`] handle
//! every layer above writes through, and the [`LogSink`] it writes to. This layer depends on
//! `domain` only (secrets are masked through a [`Mask`] the daemon gives it), so the pipeline, the LLM layer and FireCrawl log without an
//! actor system (the log hub implements the sink; tests use [`MemorySink`]).

mod event;
mod handle;
mod line;
mod memory;

pub use event::LogEvent;
pub use handle::{no_mask, BoxFuture, LogSink, Mask, RunLog, STORED_ERROR_CHARS};
pub use line::{LogLevel, LogLine, SharedLine};
pub use memory::{MemoryLine, MemorySink};

/// A run's numbering resumes this far past the last stored line when an earlier attempt
/// (another process, or this one before a crash) wrote it, so a sequence number a client
/// saw before the crash is never given to a different line.
pub const RESUME_SEQ_GAP: u64 = 1_000;

/// The sequence number a run's next line gets, given the highest stored one
/// (`stored_last`, 0 when none) and whether those lines come from an earlier attempt whose
/// last lines may have been streamed but not stored. The one numbering rule: the pipeline
/// actor starting a run and a log stream opening a run not yet tracked both use it.
pub fn next_seq(stored_last: u64, earlier_attempt: bool) -> u64 {
    match (stored_last, earlier_attempt) {
        (0, _) => 1,
        (last, true) => last + 1 + RESUME_SEQ_GAP,
        (last, false) => last + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_starts_at_one_continues_and_jumps_after_an_earlier_attempt() {
        assert_eq!(next_seq(0, false), 1);
        assert_eq!(next_seq(0, true), 1);
        assert_eq!(next_seq(41, false), 42);
        assert_eq!(next_seq(41, true), 42 + RESUME_SEQ_GAP);
    }

    #[test]
    fn a_run_log_masks_bounds_and_splits_before_the_sink_sees_anything() {
        let sink = std::sync::Arc::new(MemorySink::default());
        let mask: std::sync::Arc<dyn Mask> = std::sync::Arc::new(|t: &str| t.replace("sk-0123456789", "****"));
        let log = RunLog::new(crate::domain::RunId::generate(), sink.clone(), mask)
            .for_stage(crate::domain::StageName::Research);
        log.warn("key sk-0123456789\rforged");
        log.stage_changed(
            crate::domain::StageName::Research,
            crate::domain::StageStatus::Completed,
        );
        assert_eq!(sink.messages(), vec!["key ****", "forged"]);
        assert!(sink
            .lines()
            .iter()
            .all(|l| l.level == LogLevel::Warn && l.stage == Some(crate::domain::StageName::Research)));
        assert_eq!(sink.stage_changes().len(), 1);
    }
}
