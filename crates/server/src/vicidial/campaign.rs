//! `GET /api/campaign`: what the desk needs to know about the agent's campaign, read from
//! VICIdial's tables each time (an admin's change shows up without a release of ours).

use axum::{extract::State, Json};
use dialdeck_shared::{CallbackRules, CampaignInfo, Hotkey, PauseCode, PauseCodesMode};

use super::{db, desk::selectable_statuses, phone};
use crate::{http::ApiError, session::CurrentAgent, AppState};

use super::routes::{db_error, vicidial};

/// `agent_pause_codes_active` as the desk's mode.
pub fn pause_codes_mode(value: &str) -> PauseCodesMode {
    match value {
        "Y" => PauseCodesMode::Optional,
        "FORCE" => PauseCodesMode::Forced,
        _ => PauseCodesMode::Off,
    }
}

/// `GET /api/campaign`.
pub(super) async fn campaign(
    State(state): State<AppState>,
    CurrentAgent(agent): CurrentAgent,
) -> Result<Json<CampaignInfo>, ApiError> {
    let v = vicidial(&state)?;
    let campaign_id = agent
        .campaign_id
        .clone()
        .unwrap_or_else(|| v.args.campaign.clone());
    let camp = db::campaign(&v.db, &campaign_id)
        .await
        .map_err(db_error)?
        .ok_or_else(|| ApiError::NotFound(format!("campaign {campaign_id}")))?;
    let pause_codes = db::pause_codes(&v.db, &campaign_id)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|(code, name, billable)| PauseCode {
            code,
            name,
            billable: billable == "YES" || billable == "HALF",
        })
        .collect();
    let hotkeys = db::hotkeys(&v.db, &campaign_id)
        .await
        .map_err(db_error)?
        .into_iter()
        .filter_map(|(key, status, name)| {
            let key = key.chars().next().filter(|k| ('1'..='9').contains(k))?;
            Some(Hotkey { key, status, name })
        })
        .collect();
    let (user_callbacks, agent_only) = db::user_callback_rights(&v.db, &agent.user)
        .await
        .map_err(db_error)?;
    Ok(Json(CampaignInfo {
        campaign_id: campaign_id.clone(),
        campaign_name: camp.name.clone(),
        auto_dial: camp.auto_dial(),
        pause_codes_mode: pause_codes_mode(&camp.pause_codes_active),
        pause_codes,
        statuses: selectable_statuses(&v, &campaign_id).await?,
        hotkeys,
        callbacks: CallbackRules {
            allowed: camp.scheduled_callbacks && user_callbacks,
            me_allowed: agent_only,
            me_by_default: camp.my_callback_checked,
            days_limit: u32::try_from(camp.callback_days_limit.max(0)).unwrap_or(0),
        },
        default_country: v.args.default_country.trim().to_ascii_uppercase(),
        countries: phone::countries(),
    }))
}
