//! The agent's scheduled callbacks (`GET /api/agent/callbacks`): due ones first, each marked
//! for the agent only or anyone in the campaign, and a due one is dialled in one click
//! (`DialRequest { callback_id }`: VICIdial takes the callback).

use dialdeck_shared::{CallbackItem, DialRequest, Recipient, TargetState};
use leptos::prelude::*;

use super::{desk::DeskCtx, recent::local_when};
use crate::shell::{http, time};

/// How often the list is read again (callbacks fall due as time passes).
const REFRESH_MS: u64 = 60_000;

/// The callbacks list.
#[component]
pub fn MyCallbacks() -> impl IntoView {
    let ctx = expect_context::<DeskCtx>();
    time::every(REFRESH_MS, move || {
        ctx.callbacks_version.update(|v| *v += 1)
    });
    let items = LocalResource::new(move || {
        ctx.callbacks_version.track();
        http::get_json::<Vec<CallbackItem>>("/api/agent/callbacks")
    });
    // A dialled callback leaves the list (VICIdial took it); a new disposition may add one.
    Effect::new(move |_| {
        if let Some(Ok(_)) = ctx.dial.value().get() {
            ctx.callbacks_version.update(|v| *v += 1);
        }
    });
    // A new callback is in VICIdial's list only once the outbox applied it there: read again
    // when a disposition is accepted and when VICIdial has one more of them.
    Effect::new(move |prev: Option<(usize, usize)>| {
        let n = ctx.dispositions.with(|l| {
            let in_vicidial = l
                .iter()
                .filter(|d| {
                    d.targets
                        .iter()
                        .any(|t| t.target == "vicidial" && t.state == TargetState::Done)
                })
                .count();
            (l.len(), in_vicidial)
        });
        if prev.is_some_and(|p| p != n) {
            ctx.callbacks_version.update(|v| *v += 1);
        }
        n
    });
    let block = move || {
        ctx.state.with(|s| match s {
            None => Some("Connecting to VICIdial…"),
            Some(s) => s.dial_block().map(|b| b.message()),
        })
    };
    let list = move || match items.get() {
        None => view! { <p class="muted">"Loading…"</p> }.into_any(),
        Some(Err(e)) => {
            let mut s = String::from("Callbacks could not be loaded: ");
            s.push_str(&e.to_string());
            view! {
                <p class="warning">{s}
                    <button type="button" class="secondary small" on:click=move |_| items.refetch()>"Try again"</button>
                </p>
            }
            .into_any()
        }
        Some(Ok(list)) if list.is_empty() => {
            view! { <p class="empty">"No callbacks scheduled."</p> }.into_any()
        }
        Some(Ok(mut list)) => {
            // Due ones first, then the soonest.
            list.sort_by_key(|c| (!c.due, c.at));
            view! {
                <ol class="list" id="callback-list">
                    {list.into_iter().map(|c| {
                        let id = c.callback_id;
                        let due = c.due;
                        view! {
                            <li class="item callback-item" class:due=due data-callback=id>
                                <div class="item-main">
                                    <span class="item-name">{if c.name.is_empty() { c.phone.clone() } else { c.name.clone() }}</span>
                                    {due.then(|| view! { <span class="badge badge-due">"Due"</span> })}
                                    <span class="badge" title=match c.recipient {
                                        Recipient::UserOnly => "Only you can take it",
                                        Recipient::Anyone => "Anyone in the campaign can take it",
                                    }>{match c.recipient {
                                        Recipient::UserOnly => "Me",
                                        Recipient::Anyone => "Anyone",
                                    }}</span>
                                </div>
                                <div class="item-sub muted">
                                    <span>{local_when(c.at)}</span>
                                    {(!c.name.is_empty()).then(|| view! { <span>{c.phone.clone()}</span> })}
                                </div>
                                {(!c.comments.is_empty()).then(|| view! { <p class="item-note">{c.comments.clone()}</p> })}
                                {due.then(|| view! {
                                    <button type="button" class="primary small callback-dial"
                                        id=format!("callback-dial-{id}")
                                        disabled=move || block().is_some() || ctx.dial.pending().get()
                                        title=move || block().unwrap_or("Dial this callback now")
                                        on:click=move |_| {
                                            ctx.dial_error.set(None);
                                            ctx.dial.dispatch(DialRequest {
                                                phone_number: None,
                                                country: None,
                                                lead_id: None,
                                                callback_id: Some(id),
                                            });
                                        }>
                                        "Call now"
                                    </button>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ol>
            }
            .into_any()
        }
    };
    view! {
        <section class="card list-card" aria-labelledby="callbacks-title" id="my-callbacks">
            <h2 id="callbacks-title" class="card-title">"My callbacks"</h2>
            {list}
        </section>
    }
}
