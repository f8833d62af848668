//! The one error type at the HTTP edge. 4xx carry `{code, message}` for the agent; 5xx are
//! logged with their cause chain and answered opaquely, so no internal detail (or secret)
//! reaches the browser.

use std::time::Duration;

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use dialdeck_shared::ApiErrorBody;

/// An API failure, mapped to a status code and a JSON body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request itself is malformed or fails validation.
    #[error("{message}")]
    BadRequest {
        /// Stable machine code.
        code: &'static str,
        /// Explanation for the agent.
        message: String,
    },
    /// 401: no valid session, or wrong credentials.
    #[error("{message}")]
    Unauthorized {
        /// Stable machine code.
        code: &'static str,
        /// Explanation for the agent.
        message: String,
    },
    /// 403: authenticated but not allowed.
    #[error("{message}")]
    Forbidden {
        /// Stable machine code.
        code: &'static str,
        /// Explanation for the agent.
        message: String,
    },
    /// 404: no such resource.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with current state (e.g. dialling during wrap-up).
    #[error("{message}")]
    Conflict {
        /// Stable machine code.
        code: &'static str,
        /// Explanation for the agent.
        message: String,
    },
    /// 429: too many attempts or open streams; `Retry-After` says when to try again.
    #[error("{message}")]
    TooManyRequests {
        /// Stable machine code.
        code: &'static str,
        /// Explanation for the agent.
        message: String,
        /// How long until the next attempt can succeed (sent as `Retry-After`, whole seconds,
        /// rounded up).
        retry_after: Duration,
    },
    /// 503 with a reason the agent may see (e.g. VICIdial unreachable).
    #[error("{message}")]
    Unavailable {
        /// Stable machine code.
        code: &'static str,
        /// Explanation for the agent.
        message: String,
    },
    /// 500: anything unexpected. Logged in full, answered opaquely.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// Shorthand for a 400 with a code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    fn status_and_body(&self) -> (StatusCode, ApiErrorBody) {
        let body = |code: &str, message: &str| ApiErrorBody {
            code: code.to_string(),
            message: message.to_string(),
        };
        match self {
            ApiError::BadRequest { code, message } => {
                (StatusCode::BAD_REQUEST, body(code, message))
            }
            ApiError::Unauthorized { code, message } => {
                (StatusCode::UNAUTHORIZED, body(code, message))
            }
            ApiError::Forbidden { code, message } => (StatusCode::FORBIDDEN, body(code, message)),
            ApiError::NotFound(message) => (StatusCode::NOT_FOUND, body("not_found", message)),
            ApiError::Conflict { code, message } => (StatusCode::CONFLICT, body(code, message)),
            ApiError::TooManyRequests { code, message, .. } => {
                (StatusCode::TOO_MANY_REQUESTS, body(code, message))
            }
            ApiError::Unavailable { code, message } => {
                (StatusCode::SERVICE_UNAVAILABLE, body(code, message))
            }
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                body(
                    "internal",
                    "Something went wrong on the server; it has been logged.",
                ),
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.status_and_body();
        if let ApiError::Internal(err) = &self {
            tracing::error!(error = ?err, "internal error");
        }
        let mut resp = (status, Json(body)).into_response();
        if let ApiError::TooManyRequests { retry_after, .. } = &self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, retry_after_value(*retry_after));
        }
        resp
    }
}

/// `Retry-After` in whole seconds, rounded up and at least 1 (0 would invite a busy loop).
pub fn retry_after_value(wait: Duration) -> HeaderValue {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(secs.max(1))
}

/// `Json<T>` whose rejection (bad JSON, wrong types, wrong content type) is a 400 with the
/// usual `{code, message}` body instead of axum's plain-text answer.
pub struct ApiJson<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(ApiError::bad_request(
                "malformed_request",
                rejection.body_text(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let err = ApiError::Internal(anyhow::anyhow!("password=hunter2 in a query"));
        let (status, body) = err.status_and_body();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.message.contains("hunter2"));
    }

    #[test]
    fn throttled_answers_say_when_to_come_back() {
        let resp = ApiError::TooManyRequests {
            code: "too_many_attempts",
            message: "wait".into(),
            retry_after: Duration::from_millis(2_100),
        }
        .into_response();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "3");
        assert_eq!(retry_after_value(Duration::ZERO), "1");
    }

    #[test]
    fn client_errors_carry_code_and_message() {
        let (status, body) =
            ApiError::bad_request("invalid_phone", "not a phone number").status_and_body();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body.code, "invalid_phone");
    }
}
