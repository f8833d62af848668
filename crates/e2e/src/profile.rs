//! A stand-in for the server's agent login while `/api/login` and `/api/me` are not on the
//! branch yet (test infrastructure only, never product code): a front door on 127.0.0.1 that
//! answers `GET /api/me` with a fixed [`AgentProfile`] for the lab and passes every other
//! request, unchanged, to the real dialdeck binary (which serves the real frontend with its
//! real security headers).

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use dialdeck_shared::{AgentProfile, AgentScreenLogin, PhoneConfig};

use crate::lab;

/// The profile of a lab agent whose phone is `user` (one of [`lab::USERS`]).
pub fn lab_agent(user: &str, auto_answer: bool) -> AgentProfile {
    let (_, password) = lab::USERS
        .iter()
        .find(|(u, _)| *u == user)
        .expect("a lab user");
    AgentProfile {
        user: user.trim_start_matches("cc").to_string(),
        full_name: format!("Agent {user}"),
        user_level: 1,
        campaign_id: "LABCAMP".into(),
        phone: PhoneConfig {
            sip_uri: format!("sip:{user}@{}", lab::DOMAIN),
            auth_user: user.to_string(),
            password: password.to_string(),
            display_name: format!("Agent {user}"),
            ws_url: lab::WS_URL.to_string(),
            ice_servers: vec![],
            conf_exten: None,
            auto_answer,
            join_by_dialing: false,
            conference_prefix: String::new(),
        },
        screen: AgentScreenLogin {
            url: "http://127.0.0.1:9/agc/vicidial.php".into(),
            campaign: "LABCAMP".into(),
            phone_login: user.to_string(),
            phone_pass: "unused".into(),
        },
    }
}

#[derive(Clone)]
struct Front {
    upstream: String,
    profile: AgentProfile,
    http: reqwest::Client,
}

/// A running front door.
pub struct ProfileProxy {
    /// `http://127.0.0.1:<port>`: open this in the browser.
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl ProfileProxy {
    /// Serves `profile` at `/api/me` and forwards the rest to `upstream`.
    pub async fn start(upstream: &str, profile: AgentProfile) -> anyhow::Result<ProfileProxy> {
        let front = Front {
            upstream: upstream.to_string(),
            profile,
            http: reqwest::Client::new(),
        };
        let app = Router::new()
            .route("/api/me", get(me))
            .fallback(forward)
            .with_state(front);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ProfileProxy { url, task })
    }
}

impl Drop for ProfileProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn me(State(front): State<Front>) -> Json<AgentProfile> {
    Json(front.profile)
}

async fn forward(State(front): State<Front>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut out = front
        .http
        .request(req.method().clone(), format!("{}{path}", front.upstream));
    for (k, v) in req.headers() {
        if k != "host" {
            out = out.header(k, v);
        }
    }
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    match out.body(body).send().await {
        Ok(res) => {
            let status = StatusCode::from_u16(res.status().as_u16()).unwrap_or(StatusCode::OK);
            let mut headers = HeaderMap::new();
            for (k, v) in res.headers() {
                if k != "transfer-encoding" && k != "connection" {
                    headers.append(k.clone(), v.clone());
                }
            }
            let bytes = res.bytes().await.unwrap_or_default();
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
