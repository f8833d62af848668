//! `/healthz` (the process answers) and `/readyz` (its dependencies answer).

use axum::{extract::State, http::StatusCode, Json};
use dialdeck_shared::{Readiness, ReadinessCheck};

use crate::{store, AppState};

/// Liveness: answers as long as the process serves HTTP.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: 200 when every required dependency answers, 503 otherwise, with one line per
/// dependency (GHL's is shown, not required).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let store_check = match store::ping(state.store()).await {
        Ok(()) => ReadinessCheck {
            name: "store".into(),
            ok: true,
            detail: None,
            required: true,
        },
        Err(err) => ReadinessCheck {
            name: "store".into(),
            ok: false,
            detail: Some(err.to_string()),
            required: true,
        },
    };
    let mut checks = vec![store_check];
    if let Some(v) = state.vicidial() {
        let ok = sqlx::query("SELECT 1").execute(&v.db).await.is_ok();
        checks.push(ReadinessCheck {
            name: "vicidial_db".into(),
            ok,
            detail: (!ok).then(|| "VICIdial's database does not answer".into()),
            required: true,
        });
    }
    checks.extend(state.ghl_setup().readiness());
    let ready = checks.iter().all(|c| c.ok || !c.required);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Readiness { ready, checks }))
}
