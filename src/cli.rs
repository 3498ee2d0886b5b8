//! The `job-runner` command line: `serve`, `run`, `import`, `config`, `alert-test`. Exit codes:
//! 0 success, 1 the run failed or was cancelled, 2 usage error, 3 invalid configuration,
//! 4 invalid input file, 5 runtime error (store, port, lock).

mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{ConfigError, Settings};
use crate::domain::JobPosting;

/// Exit code: the run failed or was cancelled.
pub const EXIT_RUN_FAILED: u8 = 1;
/// Exit code: invalid configuration.
pub const EXIT_CONFIG: u8 = 3;
/// Exit code: invalid input file.
pub const EXIT_INPUT: u8 = 4;
/// Exit code: runtime failure.
pub const EXIT_RUNTIME: u8 = 5;

/// job-runner: turns job postings into application packages.
#[derive(Debug, Parser)]
#[command(name = "job-runner", version, about)]
pub struct Cli {
    /// Folder with `default.toml` and `<ENVIRONMENT>.toml`.
    #[arg(long, env = "CONFIG_DIR", default_value = "config", global = true)]
    pub config_dir: PathBuf,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP daemon (the default).
    Serve,
    /// Run one posting locally with a live progress display and print where the files are.
    Run {
        /// A job document (JSON object shaped like a `level-2` document).
        posting: PathBuf,
        /// The master CV (markdown); defaults to MASTER_CV_PATH.
        #[arg(long)]
        master_cv: Option<PathBuf>,
        /// Run one operation (`generate-cv`, `research-company`, ...) instead of the whole
        /// pipeline; the other stages reuse this job's latest outputs from earlier runs.
        #[arg(long, value_name = "OPERATION")]
        only: Option<String>,
    },
    /// Load job documents (a JSON array or one object) into the store.
    Import {
        /// The JSON file.
        postings: PathBuf,
    },
    /// Write a finished run's application package into a folder: from this runner's data
    /// folder, or from the store (MongoDB keeps every runner's files).
    Export {
        /// The run (its id).
        #[arg(long, conflicts_with = "job", required_unless_present = "job")]
        run: Option<String>,
        /// The job: its latest completed run.
        #[arg(long)]
        job: Option<String>,
        /// Where to write the files (created if missing).
        dir: PathBuf,
    },
    /// Delete finished runs older than some days, with their logs, checkpoints, LLM call
    /// records and files (job documents and application folders stay); or, with --job,
    /// erase everything held about one job.
    Purge {
        /// Age in days (0 = every finished run); defaults to RETENTION_DAYS.
        #[arg(long, conflicts_with = "job")]
        older_than_days: Option<u32>,
        /// Erase one job's runs, logs, checkpoints, LLM call records, files and tokens.
        #[arg(long)]
        job: Option<String>,
        /// With --job: the job document and its published application folder too.
        #[arg(long, requires = "job")]
        with_job: bool,
    },
    /// Mint a read token for one run (its log stream, status, progress and artifacts).
    Token {
        /// The run the token reads.
        #[arg(long)]
        run: String,
        /// Lifetime: seconds, or a number with s, m, h or d (at most 7 days); defaults to
        /// RUN_TOKEN_TTL_SECONDS.
        #[arg(long)]
        ttl: Option<String>,
    },
    /// Print the resolved configuration with secrets masked.
    Config,
    /// Send a test alert through every configured channel (e-mail, webhook).
    AlertTest,
}

/// A failure with its exit code.
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        Self::new(EXIT_CONFIG, e.to_string())
    }
}

/// Reads job documents from a JSON file (array or single object).
pub fn read_postings(path: &Path, derive_missing_id: bool) -> Result<Vec<JobPosting>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(EXIT_INPUT, format!("cannot read {}: {e}", path.display())))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| CliError::new(EXIT_INPUT, format!("{} is not valid JSON: {e}", path.display())))?;
    let docs = match value {
        serde_json::Value::Array(items) => items,
        obj @ serde_json::Value::Object(_) => vec![obj],
        _ => {
            return Err(CliError::new(
                EXIT_INPUT,
                format!("{} must hold a JSON object or an array of objects", path.display()),
            ))
        }
    };
    docs.iter()
        .enumerate()
        .map(|(i, d)| {
            let obj = d
                .as_object()
                .ok_or_else(|| CliError::new(EXIT_INPUT, format!("item {i} of {} is not an object", path.display())))?;
            JobPosting::from_document(obj, derive_missing_id)
                .map_err(|e| CliError::new(EXIT_INPUT, format!("item {i} of {}: {e}", path.display())))
        })
        .collect()
}

/// Runs the parsed command.
pub async fn dispatch(cli: Cli) -> ExitCode {
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(&cli.config_dir).await,
        Command::Run {
            posting,
            master_cv,
            only,
        } => run::run(&cli.config_dir, &posting, master_cv.as_deref(), only.as_deref()).await,
        Command::Import { postings } => import(&cli.config_dir, &postings).await,
        Command::AlertTest => alert_test(&cli.config_dir).await,
        Command::Purge {
            job: Some(job),
            with_job,
            ..
        } => erase_job(&cli.config_dir, &job, with_job).await,
        Command::Purge { older_than_days, .. } => purge(&cli.config_dir, older_than_days).await,
        Command::Token { run, ttl } => token(&cli.config_dir, &run, ttl.as_deref()).await,
        Command::Export { run, job, dir } => export(&cli.config_dir, run.as_deref(), job.as_deref(), &dir).await,
        Command::Config => Settings::load(&cli.config_dir)
            .map(|s| print!("{}", s.render_masked()))
            .map_err(CliError::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

async fn serve(config_dir: &Path) -> Result<(), CliError> {
    let settings = Settings::load(config_dir)?;
    // Flushes the log files when serve returns.
    let _logs = crate::telemetry::init(&settings);
    let app = crate::startup::Application::build(settings)
        .await
        .map_err(|e| CliError::new(EXIT_RUNTIME, format!("{e:#}")))?;
    app.run_until_stopped()
        .await
        .map_err(|e| CliError::new(EXIT_RUNTIME, format!("{e:#}")))
}

async fn alert_test(config_dir: &Path) -> Result<(), CliError> {
    let settings = Settings::load(config_dir)?;
    crate::telemetry::init_with("warn", settings.logging.log_format);
    let notifier =
        crate::notify::Notifier::from_settings(&settings.alerts).map_err(|e| CliError::new(EXIT_CONFIG, e))?;
    if notifier.is_empty() {
        return Err(CliError::new(
            EXIT_CONFIG,
            "neither ALERT_TO nor ALERT_WEBHOOK_URL is set: there is no channel to test",
        ));
    }
    let host = crate::host::hostname();
    let headline = "This is a test alert from job-runner: if you read this, this channel works.";
    let notice = crate::notify::Notice {
        kind: crate::notify::NoticeKind::Test,
        check: "test".into(),
        host: host.clone(),
        subject: format!("[job-runner@{host}] TEST: alert channels"),
        headline: headline.into(),
        advice: "Nothing to do.".into(),
        command: "job-runner alert-test".into(),
        details: String::new(),
        since: None,
        value: serde_json::Value::Null,
        threshold: serde_json::Value::Null,
        text: format!("{headline}\n"),
        html: format!("<p>{headline}</p>"),
    };
    let mut failed = Vec::new();
    for (channel, result) in notifier.send_all(&notice).await {
        match result {
            Ok(()) => println!("{channel}: test alert sent"),
            Err(e) => {
                println!("{channel}: FAILED: {e}");
                failed.push(channel);
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            EXIT_RUNTIME,
            format!("the test alert could not be sent on: {}", failed.join(", ")),
        ))
    }
}

/// `job-runner purge`: retention on demand.
async fn purge(config_dir: &Path, older_than_days: Option<u32>) -> Result<(), CliError> {
    let settings = Settings::load(config_dir)?;
    crate::telemetry::init_with("warn", settings.logging.log_format);
    let days = match (older_than_days, settings.queue.retention_days) {
        (Some(d), _) => d,
        (None, 0) => {
            return Err(CliError::new(
                EXIT_INPUT,
                "give --older-than-days N (0 = every finished run), or set RETENTION_DAYS",
            ))
        }
        (None, d) => d,
    };
    let store = crate::startup::open_store(&settings)
        .await
        .map_err(|e| CliError::new(EXIT_RUNTIME, format!("{e:#}")))?;
    let n = crate::pipeline::retention::purge(&store, &settings, days)
        .await
        .map_err(|e| CliError::new(EXIT_RUNTIME, e.to_string()))?;
    println!("purged {n} finished run(s) older than {days} day(s)");
    Ok(())
}

/// `job-runner purge --job <id> [--with-job]`: erasure of one job, printing what went.
async fn erase_job(config_dir: &Path, job: &str, with_job: bool) -> Result<(), CliError> {
    let settings = Settings::load(config_dir)?;
    crate::telemetry::init_with("warn", settings.logging.log_format);
    let id = crate::domain::JobId::parse(job).map_err(|e| CliError::new(EXIT_INPUT, format!("--job: {e}")))?;
    let store = crate::startup::open_store(&settings)
        .await
        .map_err(|e| CliError::new(EXIT_RUNTIME, format!("{e:#}")))?;
    let erased = crate::pipeline::retention::erase_job(&store, &settings, &id, with_job)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict(msg) => CliError::new(EXIT_INPUT, msg),
            e => CliError::new(EXIT_RUNTIME, e.to_string()),
        })?;
    let s = &erased.store;
    println!("erased job {id}:");
    println!("  runs: {}", s.runs.len());
    for run in &s.runs {
        println!("    {run}");
    }
    println!("  log lines: {}", s.log_lines);
    println!("  stage checkpoints: {}", s.stages);
    println!("  LLM call records: {}", s.llm_calls);
    println!("  stored files: {}", s.stored_files);
    println!("  run tokens: {}", s.tokens);
    println!("  run folders: {}", erased.run_folders);
    if with_job {
        println!(
            "  job document: {}",
            if s.job_document { "removed" } else { "not found" }
        );
        match &erased.application_folder {
            Some(dir) => println!("  application folder: {} removed", dir.display()),
            None => println!("  application folder: none"),
        }
    } else {
        println!("  job document: kept (add --with-job to erase it and its application folder)");
    }
    Ok(())
}

/// A lifetime such as `3600`, `90s`, `30m`, `1h` or `2d`.
fn parse_ttl(raw: &str) -> Result<std::time::Duration, String> {
    let raw = raw.trim();
    let (digits, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("--ttl {raw:?}: give seconds or a number with s, m, h or d (e.g. 1h)"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n.saturating_mul(60),
        "h" => n.saturating_mul(3600),
        "d" => n.saturating_mul(86_400),
        other => return Err(format!("--ttl {raw:?}: unknown unit {other:?} (s, m, h or d)")),
    };
    let max = crate::config::MAX_RUN_TOKEN_TTL_SECONDS as u64;
    if !(60..=max).contains(&secs) {
        return Err(format!("--ttl {raw:?}: must be 60 s – 7 days, got {secs} s"));
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// `job-runner token --run <id> [--ttl 1h]`: prints a read token for the run on stdout
/// (its id and expiry on stderr).
async fn token(config_dir: &Path, run: &str, ttl: Option<&str>) -> Result<(), CliError> {
    let settings = Settings::load(config_dir)?;
    crate::telemetry::init_with("warn", settings.logging.log_format);
    let tokens = crate::tokens::RunTokens::from_settings(&settings).ok_or_else(|| {
        CliError::new(
            EXIT_CONFIG,
            "JWT_SECRET is not set: run tokens cannot be issued (at least 32 bytes; `openssl rand -hex 32`)",
        )
    })?;
    let ttl = ttl
        .map(parse_ttl)
        .transpose()
        .map_err(|e| CliError::new(EXIT_INPUT, e))?;
    let id = crate::domain::RunId::parse(run).map_err(|e| CliError::new(EXIT_INPUT, format!("--run: {e}")))?;
    let store = crate::startup::open_store(&settings)
        .await
        .map_err(|e| CliError::new(EXIT_RUNTIME, format!("{e:#}")))?;
    let found = store
        .get_run(&id)
        .await
        .map_err(|e| CliError::new(EXIT_RUNTIME, e.to_string()))?
        .ok_or_else(|| CliError::new(EXIT_INPUT, format!("run {id} not found")))?;
    let grant = crate::http::run_tokens::issue_and_record(&tokens, &store, std::slice::from_ref(&found), ttl, "cli")
        .await
        .map_err(|e| CliError::new(EXIT_RUNTIME, e))?
        .pop()
        .ok_or_else(|| CliError::new(EXIT_RUNTIME, "no token was issued"))?;
    println!("{}", grant.stream_token);
    eprintln!(
        "token {} reads run {id} until {} (revoke: POST /tokens/revoke {{\"jti\": \"{}\"}})",
        grant.stream_token_id,
        grant.stream_token_expires_at.to_rfc3339(),
        grant.stream_token_id
    );
    Ok(())
}

/// `job-runner export`: a run's files, local copy first, else the store's.
async fn export(config_dir: &Path, run: Option<&str>, job: Option<&str>, dir: &Path) -> Result<(), CliError> {
    use crate::domain::{JobId, RunId, RunStatus};
    let settings = Settings::load(config_dir)?;
    crate::telemetry::init_with("warn", settings.logging.log_format);
    let store = crate::startup::open_store(&settings)
        .await
        .map_err(|e| CliError::new(EXIT_RUNTIME, format!("{e:#}")))?;
    let runtime = |e: crate::store::StoreError| CliError::new(EXIT_RUNTIME, e.to_string());
    let found = match (run, job) {
        (Some(r), _) => {
            let id = RunId::parse(r).map_err(|e| CliError::new(EXIT_INPUT, format!("--run: {e}")))?;
            store.get_run(&id).await.map_err(runtime)?
        }
        (None, Some(j)) => {
            let id = JobId::parse(j).map_err(|e| CliError::new(EXIT_INPUT, format!("--job: {e}")))?;
            let filter = crate::store::RunFilter {
                status: Some(RunStatus::Completed),
                job_id: Some(id),
                limit: 1,
                offset: 0,
            };
            store.list_runs(&filter).await.map_err(runtime)?.runs.into_iter().next()
        }
        (None, None) => return Err(CliError::new(EXIT_INPUT, "give --run <id> or --job <id>")),
    };
    let run = found.ok_or_else(|| {
        CliError::new(
            EXIT_INPUT,
            format!("no completed run found for {}", run.or(job).unwrap_or_default()),
        )
    })?;
    if run.status != RunStatus::Completed {
        return Err(CliError::new(
            EXIT_INPUT,
            format!("run {} is {}, not completed: it has no package", run.run_id, run.status),
        ));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::new(EXIT_RUNTIME, format!("cannot create {}: {e}", dir.display())))?;
    let local =
        crate::pipeline::builtin_stages::publisher::run_artifact_dir(&settings.paths.data_dir, run.run_id.as_ref());
    for file in run.artifacts.values() {
        let bytes = match std::fs::read(local.join(file)) {
            Ok(b) => b,
            Err(_) => {
                store
                    .get_artifact(&run.run_id, file)
                    .await
                    .map_err(runtime)?
                    .ok_or_else(|| {
                        CliError::new(
                            EXIT_RUNTIME,
                            format!(
                                "{file} of run {} is neither in this runner's data folder nor in the store",
                                run.run_id
                            ),
                        )
                    })?
                    .bytes
            }
        };
        crate::artifacts::write_atomic(&dir.join(file), &bytes)
            .map_err(|e| CliError::new(EXIT_RUNTIME, format!("cannot write {file}: {e}")))?;
        println!("{}", dir.join(file).display());
    }
    println!("exported {} file(s) of run {}", run.artifacts.len(), run.run_id);
    Ok(())
}

async fn import(config_dir: &Path, file: &Path) -> Result<(), CliError> {
    let settings = Settings::load(config_dir)?;
    crate::telemetry::init_with("warn", settings.logging.log_format);
    let postings = read_postings(file, true)?;
    let store = crate::startup::open_store(&settings)
        .await
        .map_err(|e| CliError::new(EXIT_RUNTIME, format!("{e:#}")))?;
    let mut fresh = 0;
    for p in &postings {
        if store
            .upsert_job(p)
            .await
            .map_err(|e| CliError::new(EXIT_RUNTIME, e.to_string()))?
        {
            fresh += 1;
        }
        println!("{}  {} — {}", p.id, p.company, p.title);
    }
    let target = match settings.store.mongodb_uri {
        Some(_) => format!(
            "MongoDB {}.{}",
            settings.store.mongodb_db, settings.store.mongodb_jobs_collection
        ),
        None => settings.paths.data_dir.display().to_string(),
    };
    println!(
        "imported {} job(s): {fresh} new, {} updated, into {target}",
        postings.len(),
        postings.len() - fresh
    );
    Ok(())
}
