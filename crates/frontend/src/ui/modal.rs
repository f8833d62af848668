//! The mandatory disposition modal: shown while a call waits for its disposition; it has no
//! close button, ignores Escape, and everything behind it is inert until the server accepts a
//! disposition (the server also refuses a new dial meanwhile).

use dialdeck_shared::{
    CallbackRequest, DispositionAccepted, DispositionRequest, LeadView, Recipient, StatusOption,
    WrapupInfo,
};
use leptos::prelude::*;

use crate::shell::{http, time};

/// The modal for the call `wrapup`.
#[component]
pub fn DispositionModal(
    wrapup: WrapupInfo,
    lead: RwSignal<Option<LeadView>>,
    on_saved: impl Fn(DispositionAccepted) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let statuses = RwSignal::new(Vec::<StatusOption>::new());
    let load_error = RwSignal::new(None::<String>);
    leptos::task::spawn_local(async move {
        match http::get_json::<Vec<StatusOption>>("/api/statuses").await {
            Ok(s) => statuses.set(s),
            Err(e) => load_error.set(Some(e.to_string())),
        }
    });
    let chosen = RwSignal::new(String::new());
    let notes = RwSignal::new(String::new());
    let cb_at = RwSignal::new(String::new());
    let cb_recipient = RwSignal::new("USERONLY".to_string());
    let cb_comments = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let is_callback = move || {
        let c = chosen.get();
        statuses.with(|s| s.iter().any(|s| s.status == c && s.scheduled_callback))
    };
    let w = wrapup.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let status = chosen.get_untracked();
        if status.is_empty() {
            error.set(Some("Choose a disposition.".into()));
            return;
        }
        let callback = if is_callback() {
            let at_local = cb_at.get_untracked();
            if at_local.is_empty() {
                error.set(Some("Pick the callback date and time.".into()));
                return;
            }
            Some(CallbackRequest {
                at_local,
                time_zone: time::time_zone(),
                recipient: if cb_recipient.get_untracked() == "ANYONE" {
                    Recipient::Anyone
                } else {
                    Recipient::UserOnly
                },
                comments: cb_comments.get_untracked(),
            })
        } else {
            None
        };
        let request = DispositionRequest {
            id: w.call_id.clone(),
            lead_id: w.lead_id,
            status,
            callback,
            notes: notes.get_untracked(),
        };
        busy.set(true);
        error.set(None);
        let on_saved = on_saved.clone();
        leptos::task::spawn_local(async move {
            let result =
                http::post_json::<_, DispositionAccepted>("/api/dispositions", &request).await;
            busy.set(false);
            match result {
                Ok(accepted) => on_saved(accepted),
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    let keydown = |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
        }
    };
    let who = move || {
        lead.with(|l| {
            l.as_ref()
                .map(|l| {
                    format!(
                        "{} {} · +{} {}",
                        l.first_name, l.last_name, l.phone_code, l.phone_number
                    )
                })
                .unwrap_or_else(|| format!("lead {}", wrapup.lead_id))
        })
    };

    view! {
        <div class="modal-backdrop">
            <div class="modal card" role="dialog" aria-modal="true" aria-labelledby="dispo-title" id="dispo-modal" on:keydown=keydown>
                <h2 id="dispo-title">"Disposition"</h2>
                <p class="muted">{who}</p>
                <form on:submit=submit>
                    {move || load_error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                    <fieldset class="statuses">
                        <legend>"Outcome"</legend>
                        <For each=move || statuses.get() key=|s| s.status.clone() let:s>
                            <label class="status-option">
                                <input type="radio" name="status" value=s.status.clone()
                                    on:change={let code = s.status.clone(); move |_| chosen.set(code.clone())} />
                                {s.name.clone()}
                                <span class="code">{s.status.clone()}</span>
                            </label>
                        </For>
                    </fieldset>
                    {move || is_callback().then(|| view! {
                        <div class="callback">
                            <label for="cb-at">"Call back at (your time)"</label>
                            <input id="cb-at" type="datetime-local" bind:value=cb_at />
                            <label for="cb-recipient">"For"</label>
                            <select id="cb-recipient" on:change=move |ev| cb_recipient.set(event_target_value(&ev))>
                                <option value="USERONLY" selected>"Me"</option>
                                <option value="ANYONE">"Anyone in the campaign"</option>
                            </select>
                            <label for="cb-comments">"Callback comments"</label>
                            <input id="cb-comments" maxlength="200" bind:value=cb_comments />
                        </div>
                    })}
                    <label for="dispo-notes">"Notes"</label>
                    <textarea id="dispo-notes" rows="4" maxlength="2000" bind:value=notes></textarea>
                    {move || error.get().map(|e| view! { <p class="form-error" role="alert" id="dispo-error">{e}</p> })}
                    <button type="submit" id="dispo-submit" disabled=move || busy.get()>
                        {move || if busy.get() { "Saving…" } else { "Save disposition" }}
                    </button>
                </form>
            </div>
        </div>
    }
}
