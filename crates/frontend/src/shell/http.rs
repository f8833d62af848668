//! JSON over `fetch` to our own server (same origin, cookies included).

use dialdeck_shared::ApiErrorBody;
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

/// Why a call to our server failed, in words the agent can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The server could not be reached at all (network down, server stopped).
    Unreachable(String),
    /// The server answered with an error body.
    Api {
        /// HTTP status.
        status: u16,
        /// The server's `{code, message}`.
        body: ApiErrorBody,
    },
    /// The server answered something we could not read.
    BadResponse(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Unreachable(why) => write!(f, "cannot reach the server ({why})"),
            HttpError::Api { body, .. } => f.write_str(&body.message),
            HttpError::BadResponse(why) => write!(f, "unexpected answer from the server ({why})"),
        }
    }
}

/// `GET path`, decoding a JSON answer.
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, HttpError> {
    send("GET", path, None).await
}

/// `POST path` with a JSON body, decoding a JSON answer.
pub async fn post_json<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, HttpError> {
    let body = serde_wasm_bindgen::to_value(body)
        .and_then(|v| js_sys::JSON::stringify(&v).map_err(Into::into))
        .map_err(|e| HttpError::BadResponse(format!("{e:?}")))?;
    send("POST", path, Some(body.into())).await
}

async fn send<T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: Option<JsValue>,
) -> Result<T, HttpError> {
    let window = web_sys::window().ok_or_else(|| HttpError::Unreachable("no window".into()))?;
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    if let Some(body) = &body {
        init.set_body(body);
    }
    let request =
        Request::new_with_str_and_init(path, &init).map_err(js_err(HttpError::Unreachable))?;
    let headers = request.headers();
    let _ = headers.set("Accept", "application/json");
    if body.is_some() {
        let _ = headers.set("Content-Type", "application/json");
    }
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(js_err(HttpError::Unreachable))?
        .unchecked_into();
    let status = response.status();
    let json = match response.json() {
        Ok(promise) => JsFuture::from(promise).await.ok(),
        Err(_) => None,
    };
    if (200..300).contains(&status) {
        // No body (204, 202): fine for `()`, an error for anything else.
        let json = json.unwrap_or(JsValue::NULL);
        serde_wasm_bindgen::from_value(json)
            .map_err(|e| HttpError::BadResponse(format!("HTTP {status}: {e}")))
    } else {
        let body = json
            .and_then(|j| serde_wasm_bindgen::from_value::<ApiErrorBody>(j).ok())
            .unwrap_or_else(|| ApiErrorBody {
                code: "http_error".into(),
                message: format!("the server answered HTTP {status}"),
            });
        Err(HttpError::Api { status, body })
    }
}

fn js_err(make: fn(String) -> HttpError) -> impl Fn(JsValue) -> HttpError {
    move |e| make(e.as_string().unwrap_or_else(|| format!("{e:?}")))
}
