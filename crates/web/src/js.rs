//! The few JSON shapes the login page reads and sends, converted by hand from and to what the
//! browser's `JSON.parse` gave. The login page links no serde decoder: serde's error paths
//! (`Unexpected::Float`) bring `f64` formatting with them, kilobytes of the first load. The
//! desk, loaded after login, decodes with serde as before.

use dialdeck_shared::{ApiErrorBody, CampaignOption, LoginRequest, RuntimeConfig};
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::JsValue;

/// A value read from parsed JSON; `None` when the JSON does not have this shape.
pub trait FromJs: Sized {
    /// Reads `v`.
    fn from_js(v: &JsValue) -> Option<Self>;
}

/// A value written as a JSON object for the browser to stringify.
pub trait ToJs {
    /// Writes `self`.
    fn to_js(&self) -> JsValue;
}

fn field(obj: &JsValue, key: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    Reflect::get(obj, &JsValue::from_str(key)).ok()
}

/// A string property (`None` when missing or not a string).
pub fn string(obj: &JsValue, key: &str) -> Option<String> {
    field(obj, key)?.as_string()
}

/// A property that may be missing or `null`, else a string (`None` for another type).
fn optional_string(obj: &JsValue, key: &str) -> Option<Option<String>> {
    match field(obj, key) {
        Some(v) if v.is_null() || v.is_undefined() => Some(None),
        Some(v) => v.as_string().map(Some),
        None => None,
    }
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

impl FromJs for RuntimeConfig {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(RuntimeConfig {
            version: string(v, "version")?,
            vicidial_web_origin: optional_string(v, "vicidial_web_origin")?,
            login_available: field(v, "login_available")?.as_bool()?,
        })
    }
}

impl FromJs for ApiErrorBody {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(ApiErrorBody {
            code: string(v, "code")?,
            message: string(v, "message")?,
        })
    }
}

impl FromJs for CampaignOption {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(CampaignOption {
            campaign_id: string(v, "campaign_id")?,
            campaign_name: string(v, "campaign_name")?,
        })
    }
}

impl<T: FromJs> FromJs for Vec<T> {
    fn from_js(v: &JsValue) -> Option<Self> {
        if !Array::is_array(v) {
            return None;
        }
        Array::from(v)
            .iter()
            .map(|item| T::from_js(&item))
            .collect()
    }
}

impl ToJs for LoginRequest {
    fn to_js(&self) -> JsValue {
        let obj = Object::new();
        set(&obj, "user", &JsValue::from_str(&self.user));
        set(&obj, "password", &JsValue::from_str(&self.password));
        let campaign = match &self.campaign {
            Some(c) => JsValue::from_str(c),
            None => JsValue::NULL,
        };
        set(&obj, "campaign", &campaign);
        obj.into()
    }
}
