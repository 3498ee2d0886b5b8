//! `JsonBody<T>`: a JSON request body whose shape errors name the field at fault
//! (`tier: invalid type: integer 3, expected a string`). The body is read and checked like
//! `web::Json` (content type, `MAX_BODY_BYTES`, malformed JSON, all mapped by the app's JSON
//! error handler), then decoded with the path of the first field that does not fit.

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

use crate::http::error::ApiError;

/// A request body decoded into `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    /// The decoded body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonBody<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// Decodes `value` into `T`, naming the field at fault on error.
pub fn decode<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ApiError::validation(format!("invalid request body: {inner}"))
        } else {
            ApiError::validation(format!("invalid request body: {path}: {inner}"))
        }
    })
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<serde_json::Value>::from_request(req, payload);
        Box::pin(async move {
            let web::Json(value) = value.await?;
            decode(value).map(JsonBody).map_err(Into::into)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Shape {
        tier: Option<String>,
        job_ids: Vec<String>,
    }

    #[test]
    fn shape_errors_name_the_field() {
        let err = decode::<Shape>(serde_json::json!({"tier": 3, "job_ids": []})).unwrap_err();
        assert!(err.detail.contains("tier: invalid type: integer `3`"), "{}", err.detail);
        let err = decode::<Shape>(serde_json::json!({"job_ids": ["a", 7]})).unwrap_err();
        assert!(err.detail.contains("job_ids[1]"), "{}", err.detail);
        let err = decode::<Shape>(serde_json::json!({})).unwrap_err();
        assert!(err.detail.contains("missing field `job_ids`"), "{}", err.detail);
        assert_eq!(err.code, "VALIDATION_FAILED");
    }
}
