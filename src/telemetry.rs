//! Tracing for the daemon: `LOG_FORMAT=json` (one object per line, with `run_id` and
//! `stage` fields inside runs) or `simple`, filtered by `LOG_LEVEL`, written to stderr so
//! the CLI's stdout stays clean.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, Settings};

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(settings: &Settings) {
    init_with(&settings.log_level, settings.log_format);
}

/// Installs the global subscriber from a level filter and format.
pub fn init_with(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).try_init(),
        LogFormat::Simple => builder.compact().try_init(),
    };
}
