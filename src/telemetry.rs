//! Tracing for the daemon: `LOG_FORMAT=json` (one object per line with timestamp, level,
//! target, message, and `run_id`/`stage` inside runs) or `simple`, filtered by `LOG_LEVEL`,
//! written to stderr and, with `LOG_DIR`, to daily-rotated files through a non-blocking
//! writer that is flushed when the returned guard drops. Every line passes a [`Redactor`]:
//! configured secrets never reach a log, e-mail addresses and phone numbers are masked.
//! Lines are bounded ([`MAX_LOG_LINE_BYTES`]) and, in the simple format, every field has
//! its control characters escaped, so outside text can neither flood nor forge a line.

use std::io::Write;
use std::sync::Arc;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use crate::config::Redactor;

use crate::config::{LogFormat, Settings};
use crate::domain::untrusted::clip_to_line;

/// Keeps the file writer alive; dropping it flushes buffered lines.
pub struct LogGuard(#[allow(dead_code)] Option<WorkerGuard>);

/// The longest log line written; a longer one (a field that quotes a huge input) is cut.
pub const MAX_LOG_LINE_BYTES: usize = 32 * 1024;
/// How many characters of one field the simple format shows.
const FIELD_CHARS: usize = 4_000;

/// A writer that bounds and redacts each formatted line before passing it on.
#[derive(Clone)]
struct Redacting<W> {
    inner: W,
    redactor: Arc<Redactor>,
    json: bool,
}

impl<W: Write> Write for Redacting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let line = bounded_line(&text, self.json);
        self.inner.write_all(self.redactor.redact(&line).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A formatted event as written: unchanged up to [`MAX_LOG_LINE_BYTES`]; past it, the
/// simple format keeps the start and says how much was cut, and the JSON format (which a
/// cut would make unparsable) becomes a valid object with the start as `head`.
fn bounded_line(text: &str, json: bool) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_LOG_LINE_BYTES {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut cut = MAX_LOG_LINE_BYTES / 2;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    let line = if json {
        let note = serde_json::json!({
            "level": "WARN",
            "message": format!("log line of {} bytes cut to its first {cut} bytes", text.len()),
            "head": head,
        });
        format!("{note}\n")
    } else {
        format!("{head}… (log line of {} bytes cut)\n", text.len())
    };
    std::borrow::Cow::Owned(line)
}

#[derive(Clone)]
struct RedactingMake<M> {
    make: M,
    redactor: Arc<Redactor>,
    json: bool,
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for RedactingMake<M> {
    type Writer = Redacting<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        Redacting {
            inner: self.make.make_writer(),
            redactor: Arc::clone(&self.redactor),
            json: self.json,
        }
    }
}

/// The simple format's field formatter: every field (the message too) clipped to
/// [`FIELD_CHARS`] with its control characters escaped, so a value holding `\n` cannot
/// start what looks like a new log line.
fn escaped_fields() -> impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static {
    use tracing_subscriber::field::MakeExt;
    tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
        let text = format!("{value:?}");
        let text = clip_to_line(&text, FIELD_CHARS);
        if field.name() == "message" {
            write!(w, "{text}")
        } else {
            write!(w, "{}={text}", field.name())
        }
    })
    .delimited(" ")
}

fn layer<S, M>(format: LogFormat, make: M, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    M: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer().with_writer(make).with_ansi(ansi);
    match format {
        LogFormat::Json => base
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
        LogFormat::Simple => base.compact().fmt_fields(escaped_fields()).boxed(),
    }
}

/// Installs the daemon's subscriber (stderr, plus rolling files with `LOG_DIR`).
pub fn init(settings: &Settings) -> LogGuard {
    let redactor = Arc::new(Redactor::from_settings(settings));
    let filter = EnvFilter::try_new(&settings.logging.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = settings.logging.log_format == LogFormat::Json;
    let stderr = RedactingMake {
        make: std::io::stderr,
        redactor: Arc::clone(&redactor),
        json,
    };
    let mut guard = None;
    let file_layer = settings.logging.log_dir.as_ref().and_then(|dir| {
        let appender = tracing_appender::rolling::Builder::new()
            .rotation(tracing_appender::rolling::Rotation::DAILY)
            .filename_prefix("job-runner")
            .filename_suffix("log")
            .max_log_files(settings.logging.log_keep_files)
            .build(dir);
        match appender {
            Ok(appender) => {
                let (writer, g) = tracing_appender::non_blocking(appender);
                guard = Some(g);
                Some(layer(
                    settings.logging.log_format,
                    RedactingMake {
                        make: writer,
                        redactor: Arc::clone(&redactor),
                        json,
                    },
                    false,
                ))
            }
            Err(e) => {
                eprintln!(
                    "warning: LOG_DIR {} cannot be used: {e}; logging to stderr only",
                    dir.display()
                );
                None
            }
        }
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer(
            settings.logging.log_format,
            stderr,
            settings.logging.log_format == LogFormat::Simple && colour_on_stderr(),
        ))
        .with(file_layer)
        .try_init();
    LogGuard(guard)
}

/// Colour codes only for a person at a terminal: never when stderr is a file, a pipe or
/// journald, nor when `NO_COLOR` is set (to anything non-empty, as no-color.org says).
pub fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    colour_allowed(std::io::stderr().is_terminal(), std::env::var_os("NO_COLOR").as_deref())
}

/// [`colour_on_stderr`]'s rule, testable.
fn colour_allowed(terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs a stderr subscriber from a level filter and format (CLI commands, tests).
pub fn init_with(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr = RedactingMake {
        make: std::io::stderr,
        redactor: Arc::new(Redactor::default()),
        json: format == LogFormat::Json,
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(layer(format, stderr, false))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::colour_allowed;
    use std::ffi::OsStr;

    #[test]
    fn colour_only_at_a_terminal_without_no_color() {
        assert!(colour_allowed(true, None));
        assert!(colour_allowed(true, Some(OsStr::new(""))));
        assert!(!colour_allowed(true, Some(OsStr::new("1"))));
        assert!(!colour_allowed(false, None), "files, pipes and journald get plain text");
    }
}
