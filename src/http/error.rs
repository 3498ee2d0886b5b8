//! HTTP-facing errors: every error body is `{"detail": "...", "code": "STABLE_CODE",
//! "success": false, "error": "..."}` (`detail` keeps the old dashboard's error display
//! working, `success`/`error` the newest one's; `code` is for programs).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::actors::messages::{AdmissionError, CancelError, RetryError};
use crate::domain::untrusted::clip_to_line;
use crate::pipeline::profile::ProfileError;
use crate::store::StoreError;

/// How many characters of an error message are kept (and logged).
pub const DETAIL_CHARS: usize = 500;

/// An API error: status, stable code, message.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {detail}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    /// Seconds for `Retry-After`, on 503.
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    detail: &'a str,
    code: &'a str,
    /// Always `false`: the newest dashboard checks `result.success` and shows `error`.
    success: bool,
    error: &'a str,
}

impl ApiError {
    /// An error with a status, code and message. The message is clipped to
    /// [`DETAIL_CHARS`] and its control characters escaped: details often quote what the
    /// client sent, and they are logged, so they must stay short and on one line.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        let detail = detail.into();
        Self {
            status,
            code,
            detail: clip_to_line(&detail, DETAIL_CHARS),
            retry_after: None,
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "missing or invalid bearer token",
        )
    }

    pub fn run_not_found(run_id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "RUN_NOT_FOUND",
            format!("run {run_id} not found"),
        )
    }

    pub fn invalid_run_id(msg: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_RUN_ID", msg)
    }

    pub fn invalid_job_id(msg: String) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "INVALID_JOB_ID", msg)
    }

    pub fn validation(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED", msg)
    }

    pub fn store(e: &StoreError) -> Self {
        // Store errors can carry internals: log them, answer with a fixed message.
        tracing::error!(error = %e, "store error while serving a request");
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "STORE_UNAVAILABLE",
            "the run store is unavailable; retry shortly",
        );
        err.retry_after = Some(5);
        err
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if self.status.is_server_error() {
            tracing::warn!(
                status = self.status.as_u16(),
                code = self.code,
                "request failed: {}",
                self.detail
            );
        } else {
            tracing::info!(
                status = self.status.as_u16(),
                code = self.code,
                "request refused: {}",
                self.detail
            );
        }
        let mut res = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        let mut res = res.json(Body {
            detail: &self.detail,
            code: self.code,
            success: false,
            error: &self.detail,
        });
        // The audit trail reads the code from here (the body is already a stream).
        res.extensions_mut().insert(ErrorCode(self.code));
        res
    }
}

/// The stable code of an error answer, kept on the response for the audit trail.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(msg) => ApiError::new(StatusCode::CONFLICT, "CONFLICT", msg),
            e => ApiError::store(&e),
        }
    }
}

impl From<AdmissionError> for ApiError {
    fn from(e: AdmissionError) -> Self {
        let msg = e.to_string();
        match e {
            AdmissionError::Profile(ProfileError::Invalid(_)) => {
                Self::new(StatusCode::BAD_REQUEST, "INVALID_PROFILE_REF", msg)
            }
            AdmissionError::Profile(ProfileError::NotFound(_)) => {
                Self::new(StatusCode::NOT_FOUND, "PROFILE_NOT_FOUND", msg)
            }
            AdmissionError::JobsNotFound(_) => Self::new(StatusCode::NOT_FOUND, "JOB_NOT_FOUND", msg),
            AdmissionError::JobBusy { .. } => Self::new(StatusCode::CONFLICT, "JOB_HAS_ACTIVE_RUN", msg),
            AdmissionError::QueueFull { .. } => {
                let mut err = Self::new(StatusCode::SERVICE_UNAVAILABLE, "QUEUE_FULL", msg);
                err.retry_after = Some(30);
                err
            }
            AdmissionError::ShuttingDown => {
                let mut err = Self::new(StatusCode::SERVICE_UNAVAILABLE, "SHUTTING_DOWN", msg);
                err.retry_after = Some(10);
                err
            }
            AdmissionError::Store(e) => ApiError::store(&e),
        }
    }
}

impl From<CancelError> for ApiError {
    fn from(e: CancelError) -> Self {
        let msg = e.to_string();
        match e {
            CancelError::NotFound(id) => ApiError::run_not_found(id.as_ref()),
            CancelError::AlreadyFinished { .. } => Self::new(StatusCode::CONFLICT, "RUN_ALREADY_FINISHED", msg),
            CancelError::Store(e) => ApiError::store(&e),
        }
    }
}

impl From<RetryError> for ApiError {
    fn from(e: RetryError) -> Self {
        let msg = e.to_string();
        match e {
            RetryError::NotFound(id) => ApiError::run_not_found(id.as_ref()),
            RetryError::NotFailed { .. } => Self::new(StatusCode::CONFLICT, "QUEUE_ITEM_NOT_FAILED", msg),
            RetryError::JobBusy { .. } => Self::new(StatusCode::CONFLICT, "JOB_HAS_ACTIVE_RUN", msg),
            RetryError::Admission(e) => e.into(),
        }
    }
}

impl From<crate::actors::log_follow::FollowError> for ApiError {
    fn from(e: crate::actors::log_follow::FollowError) -> Self {
        match e {
            crate::actors::log_follow::FollowError::Store(e) => ApiError::store(&e),
            crate::actors::log_follow::FollowError::Hub(e) => e.into(),
        }
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> Self {
        tracing::error!(error = %e, "actor mailbox error");
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "RUNNER_UNAVAILABLE",
            "the run supervisor is not available",
        );
        err.retry_after = Some(5);
        err
    }
}
