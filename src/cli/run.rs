//! `job-runner run <posting.json>`: one posting through the real runtime (store, actors,
//! checkpoints, artifacts) with one progress bar per stage, then where the files are.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{read_postings, CliError, EXIT_INPUT, EXIT_RUNTIME, EXIT_RUN_FAILED};
use crate::actors::log_follow::LogFollower;
use crate::actors::messages::{CancelRun, RunRequest, SubmitRuns};
use crate::config::Settings;
use crate::domain::{RunStatus, StageName, StageStatus};
use crate::pipeline::master_cv::MasterCv;
use crate::runlog::LogEvent;
use crate::startup::Runtime;

fn runtime_err(e: impl std::fmt::Display) -> CliError {
    CliError::new(EXIT_RUNTIME, e.to_string())
}

pub async fn run(
    config_dir: &Path,
    posting: &Path,
    master_cv: Option<&Path>,
    only: Option<&str>,
) -> Result<(), CliError> {
    let operation = match only {
        None => crate::domain::Operation::FULL_RUN,
        Some(name) => crate::domain::Operation::parse(name).map_err(|e| CliError::new(EXIT_INPUT, e.to_string()))?,
    };
    let mut settings = Settings::load(config_dir)?;
    // Run log lines are shown by the progress display; tracing shows only other problems.
    crate::telemetry::init_with("warn,job_runner::actors::log_hub=off", settings.logging.log_format);
    if let Some(cv) = master_cv {
        settings.paths.master_cv_path = cv.to_path_buf();
    }
    let cv_text = std::fs::read_to_string(&settings.paths.master_cv_path).map_err(|e| {
        CliError::new(
            EXIT_INPUT,
            format!(
                "cannot read the master CV {}: {e} (pass --master-cv FILE)",
                settings.paths.master_cv_path.display()
            ),
        )
    })?;
    MasterCv::parse(&cv_text)
        .map_err(|e| CliError::new(EXIT_INPUT, format!("{}: {e}", settings.paths.master_cv_path.display())))?;
    let job = read_postings(posting, true)?
        .into_iter()
        .next()
        .ok_or_else(|| CliError::new(EXIT_INPUT, format!("{} holds no posting", posting.display())))?;

    println!("LLM: {}", crate::llm::service::selection_summary(&settings));
    let runtime = Runtime::start(settings)
        .await
        .map_err(|e| CliError::new(EXIT_RUNTIME, format!("{e:#}")))?;
    runtime.store.upsert_job(&job).await.map_err(runtime_err)?;
    let runs = runtime
        .supervisor
        .send(SubmitRuns(vec![RunRequest {
            job_id: job.id.clone(),
            profile_ref: None,
            source: Some("cli".into()),
            processing_tier: None,
            operation,
            options: Default::default(),
        }]))
        .await
        .map_err(runtime_err)?
        .map_err(runtime_err)?;
    let run_id = runs[0].run_id.clone();
    println!("{} — {}  (job {}, run {})", job.company, job.title, job.id, run_id);

    let mut events = LogFollower::new(runtime.hub.clone(), runtime.store.clone()).follow(run_id.clone(), 0);
    let interactive = std::io::stderr().is_terminal();
    let multi = MultiProgress::new();
    let style = ProgressStyle::with_template("{prefix:>13} {spinner} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let bars: Vec<(StageName, ProgressBar)> = StageName::ALL
        .iter()
        .map(|s| {
            let bar = multi.add(
                ProgressBar::new_spinner()
                    .with_style(style.clone())
                    .with_prefix(s.as_str())
                    .with_message("waiting"),
            );
            (*s, bar)
        })
        .collect();
    let say = |text: String| {
        if interactive {
            let _ = multi.println(text);
        } else {
            eprintln!("{text}");
        }
    };
    let status = loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(Ok(LogEvent::Line(line))) => say(line.render()),
                Some(Ok(LogEvent::Stage { stage, status })) => {
                    if let Some((_, bar)) = bars.iter().find(|(s, _)| *s == stage) {
                        match status {
                            StageStatus::Running => {
                                bar.set_message("running");
                                bar.enable_steady_tick(Duration::from_millis(120));
                            }
                            StageStatus::Completed => bar.finish_with_message("done"),
                            StageStatus::Failed => bar.abandon_with_message("failed"),
                            StageStatus::Pending => {}
                        }
                    }
                }
                Some(Ok(LogEvent::End(status))) => break status,
                Some(Err(e)) => {
                    say(format!("the run's log could not be followed: {e}"));
                    break RunStatus::Failed;
                }
                None => break RunStatus::Failed,
            },
            _ = tokio::signal::ctrl_c() => {
                say("interrupted: cancelling the run".into());
                let _ = runtime.supervisor.send(CancelRun(run_id.clone())).await;
            }
        }
    };
    for (_, bar) in &bars {
        if !bar.is_finished() {
            bar.abandon();
        }
    }
    runtime.shutdown().await;
    let run = runtime.store.get_run(&run_id).await.map_err(runtime_err)?;
    if status != RunStatus::Completed {
        let reason = run.and_then(|r| r.error).unwrap_or_default();
        return Err(CliError::new(EXIT_RUN_FAILED, format!("run {status}: {reason}")));
    }
    let doc = runtime
        .store
        .get_job_document(&job.id)
        .await
        .map_err(runtime_err)?
        .unwrap_or_default();
    let fit = doc.get("fit_score").and_then(|v| v.as_u64()).unwrap_or(0);
    let category = doc.get("fit_category").and_then(|v| v.as_str()).unwrap_or("");
    println!("\nFit: {fit}/100 ({category})");
    let stages = runtime.store.load_stages(&run_id).await.map_err(runtime_err)?;
    println!("Stages (who produced each output):");
    for rec in &stages {
        let producer = rec.producer.map(|p| p.as_str()).unwrap_or("-");
        println!("  {:<13} {producer}", rec.stage.as_str());
    }
    let calls = runtime.store.llm_calls(&run_id).await.map_err(runtime_err)?;
    if !calls.is_empty() {
        let cost = crate::llm::costs::run_cost(&calls).total;
        let unknown = if cost.unknown_cost_calls > 0 {
            format!(" + {} call(s) of unknown price", cost.unknown_cost_calls)
        } else {
            String::new()
        };
        println!(
            "LLM: {} call(s), {} in + {} out tokens, ${:.4}{unknown}",
            cost.calls, cost.input_tokens, cost.output_tokens, cost.cost_usd
        );
    }
    if let Some(cv_path) = doc.get("cv_path").and_then(|v| v.as_str()) {
        let dir = Path::new(cv_path).parent().unwrap_or(Path::new("."));
        println!("Application package in {}:", dir.display());
        for file in crate::artifacts::ArtifactName::ALL {
            println!("  {}", dir.join(file.file_name()).display());
        }
    }
    Ok(())
}
