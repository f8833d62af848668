//! The calls of the shift (`GET /api/agent/calls`, newest first) with their disposition and
//! where each sync target stands, kept current by the dispositions' live updates.

use dialdeck_shared::{RecentCall, TargetStatus};
use leptos::prelude::*;

use super::{
    desk::DeskCtx,
    modal::datetime_local,
    words::{clock_text, hhmm, target_tone, target_words},
};
use crate::shell::{http, time};

/// `YYYY-MM-DD HH:MM` in the agent's time zone for Unix seconds `at`.
pub fn local_when(at: i64) -> String {
    datetime_local(time::local_minute(at as f64 * 1000.0)).replacen('T', " ", 1)
}

/// `HH:MM` in the agent's time zone for Unix seconds `at`.
pub fn local_time(at: i64) -> String {
    let m = time::local_minute(at as f64 * 1000.0);
    hhmm(m.hour, m.minute)
}

/// The recent calls list.
#[component]
pub fn RecentCalls() -> impl IntoView {
    let ctx = expect_context::<DeskCtx>();
    let calls = LocalResource::new(move || {
        ctx.calls_version.track();
        http::get_json::<Vec<RecentCall>>("/api/agent/calls")
    });
    // A target's latest state: this page's live updates are fresher than the list.
    let targets_of = move |c: &RecentCall| -> Vec<TargetStatus> {
        ctx.dispositions.with(|l| {
            l.iter()
                .find(|d| d.id == c.disposition_id)
                .map(|d| d.targets.clone())
                .unwrap_or_else(|| c.targets.clone())
        })
    };
    let list = move || {
        match calls.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => {
            let mut s = String::from("Recent calls could not be loaded: ");
            s.push_str(&e.to_string());
            view! {
                <p class="warning">{s}
                    <button type="button" class="secondary small" on:click=move |_| calls.refetch()>"Try again"</button>
                </p>
            }
            .into_any()
        }
        Some(Ok(list)) if list.is_empty() => {
            view! { <p class="empty">"No calls yet in this shift."</p> }.into_any()
        }
        Some(Ok(list)) => view! {
            <ol class="list" id="recent-list">
                {list.into_iter().map(|c| {
                    let id = c.disposition_id.clone();
                    let c2 = c.clone();
                    let targets = move || targets_of(&c2);
                    view! {
                        <li class="item recent-call" data-disposition=id>
                            <div class="item-main">
                                <span class="item-name">{if c.name.is_empty() { c.phone.clone() } else { c.name.clone() }}</span>
                                <span class="badge" title=c.status.clone()>{c.status_name.clone()}</span>
                            </div>
                            <div class="item-sub muted">
                                <span>{local_time(c.at)}</span>
                                {(!c.name.is_empty()).then(|| view! { <span>{c.phone.clone()}</span> })}
                                {c.talk_secs.map(|t| view! { <span>{clock_text(u64::from(t))}" talk"</span> })}
                                {c.callback_at.map(|t| view! { <span>"callback "{local_when(t)}</span> })}
                            </div>
                            <ul class="sync-list">
                                {move || targets().into_iter().map(|t| view! {
                                    <li class=target_tone(t.state) data-target=t.target.clone()>{target_words(&t, ctx.now.get())}</li>
                                }).collect_view()}
                            </ul>
                        </li>
                    }
                }).collect_view()}
            </ol>
        }
        .into_any(),
    }
    };
    view! {
        <section class="card list-card" aria-labelledby="recent-title" id="recent-calls">
            <h2 id="recent-title" class="card-title">"Recent calls"</h2>
            {list}
        </section>
    }
}
