//! `job-runner` binary: parse the command line and hand over to [`job_runner::cli`].

use std::process::ExitCode;

use clap::Parser;

#[actix_web::main]
async fn main() -> ExitCode {
    job_runner::cli::dispatch(job_runner::cli::Cli::parse()).await
}
