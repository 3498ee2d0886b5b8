//! API tests: the real daemon on a real port, a real SQLite file in a temp dir.

mod alerts;
mod artifacts;
mod auth_and_errors;
mod capacity;
mod console;
mod dashboard;
mod docs;
mod google;
mod helpers;
mod lifecycle;
mod llm;
mod logs;
mod metrics;
#[path = "../common/model_answers.rs"]
mod model_answers;
mod operations;
mod queue;
#[path = "../common/queue_view.rs"]
mod queue_view;
mod security;
#[path = "../common/smtp.rs"]
mod smtp;
#[path = "../common/sse.rs"]
mod sse;
mod step_tracker;
mod tokens;
mod webhooks;
