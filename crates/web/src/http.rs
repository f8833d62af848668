//! JSON over `fetch` to our own server (same origin, cookies included). Every answer's `Date`
//! header feeds the server-clock estimate (see [`super::time::ClockSync`]).

use dialdeck_shared::ApiErrorBody;
use serde::{de::DeserializeOwned, Serialize};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

use crate::{
    js::{FromJs, ToJs},
    text::push_number,
    time,
};

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
        /// Seconds from the `Retry-After` header (429, 503), when the server sent one.
        retry_after: Option<u32>,
    },
    /// The server answered something we could not read.
    BadResponse(String),
}

impl HttpError {
    /// The server's error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            HttpError::Api { body, .. } => Some(&body.code),
            _ => None,
        }
    }
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

/// `GET path`, decoding a JSON answer (`204 No Content` decodes as `None` for an `Option`).
pub async fn get_json<T: DeserializeOwned>(path: &str) -> Result<T, HttpError> {
    decode(send("GET", path, None).await?)
}

/// `GET path`, the JSON answer as the browser parsed it (`null` without a body): for an
/// answer read by hand or only passed on (the login page hands the agent's profile to the
/// desk without decoding it, so its decoder is not in the first load).
pub async fn get_value(path: &str) -> Result<JsValue, HttpError> {
    Ok(send("GET", path, None).await?.json)
}

/// `POST path` with a JSON body written by hand, reading the answer by hand (see
/// [`crate::js`]: the login page's calls, without serde).
pub async fn post_js<B: ToJs, T: FromJs>(path: &str, body: &B) -> Result<T, HttpError> {
    let answer = send("POST", path, Some(stringify(&body.to_js())?)).await?;
    read_js(answer.json)
}

/// `POST path` with a JSON body written by hand, the JSON answer as the browser parsed it.
pub async fn post_js_value<B: ToJs>(path: &str, body: &B) -> Result<JsValue, HttpError> {
    Ok(send("POST", path, Some(stringify(&body.to_js())?))
        .await?
        .json)
}

/// Reads JSON the browser parsed by hand (see [`crate::js`]).
pub fn read_js<T: FromJs>(json: JsValue) -> Result<T, HttpError> {
    T::from_js(&json).ok_or_else(|| {
        HttpError::BadResponse("the answer does not have the expected fields".into())
    })
}

fn stringify(v: &JsValue) -> Result<JsValue, HttpError> {
    js_sys::JSON::stringify(v)
        .map(Into::into)
        .map_err(js_err(HttpError::BadResponse))
}

/// `POST path` with a JSON body, decoding a JSON answer.
pub async fn post_json<B: Serialize, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, HttpError> {
    decode(send("POST", path, Some(json_body(body)?)).await?)
}

/// `POST path` without a body, decoding a JSON answer.
pub async fn post_for<T: DeserializeOwned>(path: &str) -> Result<T, HttpError> {
    decode(send("POST", path, None).await?)
}

/// `POST path` with a JSON body (or none), for routes whose success answer carries nothing
/// the app needs (`202 Accepted`, `204`).
pub async fn post<B: Serialize>(path: &str, body: Option<&B>) -> Result<(), HttpError> {
    let body = body.map(json_body).transpose()?;
    send("POST", path, body).await.map(|_| ())
}

fn json_body<B: Serialize>(body: &B) -> Result<JsValue, HttpError> {
    serde_wasm_bindgen::to_value(body)
        .and_then(|v| js_sys::JSON::stringify(&v).map_err(Into::into))
        .map(Into::into)
        .map_err(|e| HttpError::BadResponse(format!("{e:?}")))
}

/// A success answer's status and JSON (`null` without a body).
struct Answer {
    status: u16,
    json: JsValue,
}

/// Decodes an answer: no body (204, 202) is fine for `()` and `Option`, an error for
/// anything else. Only this step is generic, so each answer type adds a decoder, not a
/// copy of the whole request.
fn decode<T: DeserializeOwned>(answer: Answer) -> Result<T, HttpError> {
    serde_wasm_bindgen::from_value(answer.json).map_err(|e| {
        let mut why = String::from("HTTP ");
        push_number(&mut why, u64::from(answer.status));
        why.push_str(": ");
        why.push_str(&e.to_string());
        HttpError::BadResponse(why)
    })
}

async fn send(method: &str, path: &str, body: Option<JsValue>) -> Result<Answer, HttpError> {
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
    let sent = time::now_ms();
    let response: Response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .map_err(js_err(HttpError::Unreachable))?
        .unchecked_into();
    if let Ok(Some(date)) = response.headers().get("Date") {
        time::server_date_seen(sent, time::now_ms(), &date);
    }
    let status = response.status();
    let retry_after = response
        .headers()
        .get("Retry-After")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u32>().ok());
    let json = if status == 204 {
        None
    } else {
        match response.json() {
            Ok(promise) => JsFuture::from(promise).await.ok(),
            Err(_) => None,
        }
    };
    if (200..300).contains(&status) {
        return Ok(Answer {
            status,
            json: json.unwrap_or(JsValue::NULL),
        });
    }
    let body = json
        .and_then(|j| ApiErrorBody::from_js(&j))
        .unwrap_or_else(|| {
            let mut message = String::from("the server answered HTTP ");
            push_number(&mut message, u64::from(status));
            ApiErrorBody {
                code: "http_error".into(),
                message,
            }
        });
    Err(HttpError::Api {
        status,
        body,
        retry_after,
    })
}

fn js_err(make: fn(String) -> HttpError) -> impl Fn(JsValue) -> HttpError {
    move |e| make(e.as_string().unwrap_or_else(|| format!("{e:?}")))
}

/// A fresh random idempotency key (32 hex digits from `crypto.getRandomValues`), e.g. for a
/// disposition: the same request sent twice is applied once.
pub fn idempotency_key() -> String {
    let mut bytes = [0u8; 16];
    let crypto = web_sys::window().and_then(|w| w.crypto().ok());
    if let Some(c) = crypto {
        let _ = c.get_random_values_with_u8_array(&mut bytes);
    }
    if bytes == [0; 16] {
        // No crypto (not a secure context): still unique per page and moment.
        let seed = (js_sys::Math::random() * 9_007_199_254_740_991.0) as u64;
        bytes[..8].copy_from_slice(&seed.to_le_bytes());
        bytes[8..].copy_from_slice(&(time::now_ms() as u64).to_le_bytes());
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut key = String::with_capacity(32);
    for b in bytes {
        key.push(char::from(HEX[usize::from(b >> 4)]));
        key.push(char::from(HEX[usize::from(b & 15)]));
    }
    key
}
