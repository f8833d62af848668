//! GHL's official OpenAPI files as the oracle: route matching by path template and method, and
//! request validation (headers, query, body) against the operation's parameters and schemas.
//!
//! The schema validator covers the subset of JSON Schema / OpenAPI 3.0 the GHL files use:
//! `$ref` (local and into `../common/common-schemas.json`), `type`, `nullable`, `enum`,
//! `properties`, `required`, `additionalProperties`, `items`, `anyOf`, `oneOf`, `allOf`,
//! `minLength`/`maxLength`, `minimum`/`maximum`. Unknown keywords are ignored.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

use serde_json::Value;

/// The files the simulator loads, relative to the spec directory.
pub const APP_FILES: &[&str] = &[
    "apps/contacts.json",
    "apps/opportunities.json",
    "apps/users.json",
    "apps/workflows.json",
    "apps/campaigns.json",
];

/// The shared schemas the app files `$ref`.
pub const COMMON_FILE: &str = "common/common-schemas.json";

/// Environment variable that overrides where the OpenAPI files are.
pub const SPEC_DIR_ENV: &str = "DIALDECK_GHL_SPEC_DIR";

/// Where the OpenAPI files are: `$DIALDECK_GHL_SPEC_DIR`, else `shared/reference/ghl` beside the
/// repository (the layout of the workspace and of CI).
pub fn default_spec_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(SPEC_DIR_ENV) {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/reference/ghl")
}

/// One operation of the specs: method, path template and its definition.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template as the spec spells it, e.g. `/contacts/{contactId}/tags`.
    pub template: String,
    /// The spec file it comes from (for `$ref` resolution).
    pub file: String,
    /// The operation object.
    pub def: Value,
    /// Path-level parameters (rarely used by GHL).
    pub path_params: Vec<Value>,
}

/// A matched route: the operation and the path parameters taken from the request path.
#[derive(Debug, Clone)]
pub struct RouteMatch<'a> {
    /// The operation.
    pub op: &'a Operation,
    /// `{name}` segments of the template with their (percent-decoded) values.
    pub params: HashMap<String, String>,
}

/// The loaded specs.
#[derive(Debug)]
pub struct Spec {
    docs: HashMap<String, Value>,
    ops: Vec<Operation>,
}

/// What a request looks like to the validator.
pub struct RequestView<'a> {
    /// Upper-case method.
    pub method: &'a str,
    /// Headers with lower-case names.
    pub headers: &'a HashMap<String, String>,
    /// Decoded query pairs.
    pub query: &'a [(String, String)],
    /// The parsed JSON body, `None` when the request had no body.
    pub body: Option<&'a Value>,
    /// The request's `Content-Type`, if any.
    pub content_type: Option<&'a str>,
}

impl Spec {
    /// Loads the app files and the common schemas from `dir`.
    pub fn load(dir: &Path) -> Result<Spec, String> {
        let mut docs = HashMap::new();
        let mut ops = Vec::new();
        for file in APP_FILES.iter().chain(std::iter::once(&COMMON_FILE)) {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let doc: Value = serde_json::from_str(&text)
                .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
            if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
                for (template, item) in paths {
                    let Some(item) = item.as_object() else {
                        continue;
                    };
                    let path_params = item
                        .get("parameters")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default();
                    for (method, def) in item {
                        if method == "parameters" {
                            continue;
                        }
                        ops.push(Operation {
                            method: method.to_ascii_uppercase(),
                            template: template.clone(),
                            file: file.to_string(),
                            def: def.clone(),
                            path_params: path_params.clone(),
                        });
                    }
                }
            }
            docs.insert(file.to_string(), doc);
        }
        Ok(Spec { docs, ops })
    }

    /// All operations (for tests and the control endpoint).
    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// Finds the operation for `method` and `path`. Literal segments beat `{param}` segments,
    /// so `/contacts/{id}/campaigns/removeAll` wins over `/contacts/{id}/campaigns/{campaignId}`.
    pub fn route(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        let segs: Vec<&str> = path.split('/').collect();
        let mut best: Option<(usize, RouteMatch<'_>)> = None;
        for op in self.ops.iter().filter(|o| o.method == method) {
            let tsegs: Vec<&str> = op.template.split('/').collect();
            if tsegs.len() != segs.len() {
                continue;
            }
            let mut literal = 0;
            let mut params = HashMap::new();
            let mut ok = true;
            for (t, s) in tsegs.iter().zip(&segs) {
                if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                    if s.is_empty() {
                        ok = false;
                        break;
                    }
                    params.insert(name.to_string(), percent_decode(s));
                } else if t == s {
                    literal += 1;
                } else {
                    ok = false;
                    break;
                }
            }
            if ok && best.as_ref().is_none_or(|(l, _)| literal > *l) {
                best = Some((literal, RouteMatch { op, params }));
            }
        }
        best.map(|(_, m)| m)
    }

    /// Whether any operation has this path (for 405 vs 404).
    pub fn path_exists(&self, path: &str) -> bool {
        ["GET", "POST", "PUT", "DELETE", "PATCH"]
            .iter()
            .any(|m| self.route(m, path).is_some())
    }

    /// Validates a request against its operation. Returns GHL-style messages, empty when valid.
    /// Authorization is checked by the caller (it answers 401, not 422).
    pub fn validate(&self, m: &RouteMatch<'_>, req: &RequestView<'_>) -> Vec<String> {
        let mut errors = Vec::new();
        let op = m.op;
        let params = op
            .def
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .chain(op.path_params.iter());
        for p in params {
            let p = self.deref(&op.file, p).1;
            let name = p.get("name").and_then(Value::as_str).unwrap_or_default();
            let location = p.get("in").and_then(Value::as_str).unwrap_or_default();
            let required = p.get("required").and_then(Value::as_bool).unwrap_or(false);
            let schema = p.get("schema").cloned().unwrap_or(Value::Null);
            let value: Option<String> = match location {
                "header" => req.headers.get(&name.to_ascii_lowercase()).cloned(),
                "query" => req
                    .query
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone()),
                "path" => m.params.get(name).cloned(),
                _ => None,
            };
            match value {
                None if required => errors.push(match location {
                    "header" => format!("{name} header is required"),
                    _ => format!("{name} should not be empty"),
                }),
                None => {}
                Some(v) => {
                    let as_json = scalar_from_text(&v, &schema);
                    self.check(&op.file, &schema, &as_json, name, &mut errors);
                }
            }
        }
        if let Some(rb) = op.def.get("requestBody") {
            let required = rb.get("required").and_then(Value::as_bool).unwrap_or(false);
            let schema = rb.pointer("/content/application~1json/schema");
            match (req.body, schema) {
                (None, Some(_)) if required => {
                    errors.push("request body is required (application/json)".into())
                }
                (Some(body), Some(schema)) => {
                    if !req
                        .content_type
                        .is_some_and(|c| c.starts_with("application/json"))
                    {
                        errors.push("Content-Type must be application/json".into());
                    }
                    self.check(&op.file, schema, body, "", &mut errors);
                }
                _ => {}
            }
        } else if req.body.is_some_and(|b| !b.is_null()) {
            errors.push(format!(
                "{} {} takes no request body",
                op.method, op.template
            ));
        }
        errors
    }

    /// Validates `value` against a named schema of a spec file (for self-tests).
    pub fn validate_schema(&self, file: &str, name: &str, value: &Value) -> Vec<String> {
        let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
        let mut errors = Vec::new();
        self.check(file, &schema, value, "", &mut errors);
        errors
    }

    /// Follows `$ref` chains; returns the file the final schema lives in and the schema.
    fn deref<'a>(&'a self, file: &str, schema: &'a Value) -> (String, &'a Value) {
        let mut file = file.to_string();
        let mut schema = schema;
        for _ in 0..16 {
            let Some(r) = schema.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let (target, pointer) = r.split_once('#').unwrap_or((r, ""));
            if !target.is_empty() {
                file = resolve_relative(&file, target);
            }
            match self.docs.get(&file).and_then(|d| d.pointer(pointer)) {
                Some(s) => schema = s,
                None => break,
            }
        }
        (file, schema)
    }

    fn check(&self, file: &str, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let (file, schema) = self.deref(file, schema);
        let file = file.as_str();
        let name = if at.is_empty() { "body" } else { at };
        if value.is_null() {
            let nullable = schema
                .get("nullable")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !nullable && schema.get("type").is_some() {
                errors.push(format!("{name} should not be null"));
            }
            return;
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(alts) = schema.get(key).and_then(Value::as_array) {
                let matching = alts
                    .iter()
                    .filter(|alt| {
                        let mut e = Vec::new();
                        self.check(file, alt, value, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                let ok = if key == "oneOf" {
                    matching == 1
                } else {
                    matching >= 1
                };
                if !ok {
                    errors.push(format!("{name} does not match any allowed shape ({key})"));
                }
            }
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(file, s, value, at, errors);
            }
        }
        if let Some(t) = schema.get("type").and_then(Value::as_str) {
            let ok = match t {
                "string" => value.is_string(),
                "number" => value.is_number(),
                "integer" => value.is_i64() || value.is_u64(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "object" => value.is_object(),
                // GHL's files contain a few non-standard type names; they constrain nothing.
                _ => true,
            };
            if !ok {
                let article = if matches!(t, "array" | "object" | "integer") {
                    "an"
                } else {
                    "a"
                };
                errors.push(format!("{name} must be {article} {t}"));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                let list: Vec<String> = allowed
                    .iter()
                    .map(|v| v.as_str().map(str::to_string).unwrap_or(v.to_string()))
                    .collect();
                errors.push(format!(
                    "{name} must be one of the following values: {}",
                    list.join(", ")
                ));
            }
        }
        if let Some(s) = value.as_str() {
            let len = s.chars().count() as u64;
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                if len > max {
                    errors.push(format!(
                        "{name} must be shorter than or equal to {max} characters"
                    ));
                }
            }
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                if len < min {
                    errors.push(format!(
                        "{name} must be longer than or equal to {min} characters"
                    ));
                }
            }
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
                if n < min {
                    errors.push(format!("{name} must not be less than {min}"));
                }
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
                if n > max {
                    errors.push(format!("{name} must not be greater than {max}"));
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
            for (i, v) in arr.iter().enumerate() {
                self.check(file, items, v, &format!("{name}.{i}"), errors);
            }
        }
        if let Some(obj) = value.as_object() {
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    if !obj.contains_key(r) {
                        errors.push(format!("{} should not be empty", join(at, r)));
                    }
                }
            }
            for (k, v) in obj {
                let child = join(at, k);
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.check(file, s, v, &child, errors),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(true)) => {}
                        Some(s @ Value::Object(_)) => self.check(file, s, v, &child, errors),
                        // GHL's NestJS validation whitelists DTO properties and rejects the
                        // rest ("property x should not exist"); a schema without `properties`
                        // is a free-form object.
                        _ if props.is_some() => {
                            errors.push(format!("property {child} should not exist"))
                        }
                        _ => {}
                    },
                }
            }
        }
    }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

/// Resolves `../common/common-schemas.json` against `apps/contacts.json`.
fn resolve_relative(from: &str, target: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in target.split('/') {
        match seg {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// Query and header values are text; read them as the schema's type so `type` checks apply.
fn scalar_from_text(text: &str, schema: &Value) -> Value {
    match schema.get("type").and_then(Value::as_str) {
        Some("number") | Some("integer") => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(text.into())),
        Some("boolean") => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text.into()),
        },
        _ => Value::String(text.into()),
    }
}

/// Decodes `%XX` escapes of a path segment.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Spec {
        Spec::load(&default_spec_dir()).expect("specs load")
    }

    #[test]
    fn routes_prefer_literal_segments() {
        let s = spec();
        let m = s
            .route("DELETE", "/contacts/abc/campaigns/removeAll")
            .unwrap();
        assert_eq!(m.op.template, "/contacts/{contactId}/campaigns/removeAll");
        let m = s.route("DELETE", "/contacts/abc/campaigns/c1").unwrap();
        assert_eq!(m.params["campaignId"], "c1");
        assert!(s.route("POST", "/contacts/").is_some());
        assert!(s.route("PATCH", "/contacts/abc").is_none());
    }

    #[test]
    fn task_body_validation() {
        let s = spec();
        let ok = json!({"title":"t","dueDate":"2026-01-01T00:00:00Z","completed":false});
        assert!(s
            .validate_schema("apps/contacts.json", "CreateTaskParams", &ok)
            .is_empty());
        let bad = json!({"title":1,"completed":"no","extra":true});
        let errs = s.validate_schema("apps/contacts.json", "CreateTaskParams", &bad);
        assert!(
            errs.iter().any(|e| e == "dueDate should not be empty"),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e == "title must be a string"),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e == "completed must be a boolean"),
            "{errs:?}"
        );
        assert!(
            errs.iter().any(|e| e.contains("extra should not exist")),
            "{errs:?}"
        );
    }

    #[test]
    fn nested_refs_and_enums() {
        let s = spec();
        let bad = json!({"dnd":true,"dndSettings":{"Call":{"status":"on"},"SMS":{}}});
        let errs = s.validate_schema("apps/contacts.json", "UpdateContactDto", &bad);
        assert!(
            errs.iter()
                .any(|e| e.starts_with("dndSettings.Call.status must be one of")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e == "dndSettings.SMS.status should not be empty"),
            "{errs:?}"
        );
        let errs = s.validate_schema(
            "apps/opportunities.json",
            "CreateDto",
            &json!({"pipelineId":"p","locationId":"l","name":"n","status":"won","contactId":"c","monetaryValue":"12"}),
        );
        assert_eq!(errs, vec!["monetaryValue must be a number".to_string()]);
    }

    #[test]
    fn common_schema_refs_resolve() {
        assert_eq!(
            resolve_relative("apps/contacts.json", "../common/common-schemas.json"),
            "common/common-schemas.json"
        );
        let s = spec();
        let errs = s.validate_schema(
            "common/common-schemas.json",
            "UnprocessableDTO",
            &json!({"statusCode":422,"message":["x"],"error":"Unprocessable Entity"}),
        );
        assert!(errs.is_empty(), "{errs:?}");
    }
}
