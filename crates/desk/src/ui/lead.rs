//! The lead on screen, from VICIdial (`GET /api/lead/{id}`), and the GoHighLevel contact
//! matched to it (`GET /api/lead/{id}/ghl`: tags, do-not-disturb; `204` when there is none).

use dialdeck_shared::GhlContactView;
use leptos::prelude::*;

use super::desk::DeskCtx;
use crate::shell::http;

/// `a b c` of the non-empty parts, for an address line.
fn join_parts(parts: &[&str]) -> String {
    let mut s = String::new();
    for p in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        if !s.is_empty() {
            s.push_str(", ");
        }
        s.push_str(p);
    }
    s
}

/// The lead panel.
#[component]
pub fn LeadPanel() -> impl IntoView {
    let ctx = expect_context::<DeskCtx>();
    let lead_id = Memo::new(move |_| ctx.lead.with(|l| l.as_ref().map(|l| l.lead_id)));
    let ghl = LocalResource::new(move || {
        let id = lead_id.get();
        async move {
            match id {
                Some(id) => Some(
                    http::get_json::<Option<GhlContactView>>(&format!("/api/lead/{id}/ghl")).await,
                ),
                None => None,
            }
        }
    });
    let ghl_view = move || {
        match ghl.get().flatten() {
        None => ().into_any(),
        Some(Ok(None)) => view! {
            <p class="muted ghl-none" id="ghl-contact">"No GoHighLevel contact matches this lead."</p>
        }
        .into_any(),
        Some(Ok(Some(c))) => view! {
            <div class="ghl" id="ghl-contact">
                <h3>"GoHighLevel"
                    {c.dnd.then(|| view! { <span class="badge badge-danger" id="ghl-dnd">"Do not disturb"</span> })}
                </h3>
                <dl class="facts">
                    <dt>"Contact"</dt><dd>{c.name.clone()}</dd>
                    {c.email.clone().map(|e| view! { <dt>"Email"</dt><dd>{e}</dd> })}
                    {c.phone.clone().map(|p| view! { <dt>"Phone"</dt><dd>{p}</dd> })}
                </dl>
                <ul class="tags" aria-label="Tags">
                    {c.tags.iter().map(|t| view! { <li class="tag">{t.clone()}</li> }).collect_view()}
                </ul>
            </div>
        }
        .into_any(),
        Some(Err(e)) => {
            let mut s = String::from("The GoHighLevel contact could not be loaded: ");
            s.push_str(&e.to_string());
            view! { <p class="warning" id="ghl-contact">{s}</p> }.into_any()
        }
    }
    };

    view! {
        <section class="card lead-card" aria-labelledby="lead-title">
            {move || match ctx.lead.get() {
                None => view! {
                    <h2 id="lead-title" class="card-title">"Lead"</h2>
                    <div class="lead-empty">
                        <p class="empty">"No lead on screen"</p>
                        <p class="muted">"The lead of the call appears here: VICIdial's record and its GoHighLevel contact."</p>
                    </div>
                }.into_any(),
                Some(l) => {
                    let name = join_parts(&[&l.first_name, &l.last_name]).replace(", ", " ");
                    let address = join_parts(&[&l.address1, &l.city, &l.state, &l.postal_code]);
                    let mut called = String::new();
                    super::words::push_number(&mut called, l.called_count.max(0) as u64);
                    called.push_str(if l.called_count == 1 { " time" } else { " times" });
                    view! {
                        <article id="lead-panel" class="lead" aria-labelledby="lead-title">
                            <h2 id="lead-title" class="lead-name">
                                {if name.is_empty() { "Unnamed lead".to_string() } else { name }}
                            </h2>
                            <p class="lead-phone">{l.phone.clone()}</p>
                            <dl class="facts">
                                <dt>"Last status"</dt><dd><span class="badge">{l.status.clone()}</span></dd>
                                <dt>"Called"</dt><dd>{called}</dd>
                                <dt>"Email"</dt><dd>{l.email.clone()}</dd>
                                <dt>"Address"</dt><dd>{address}</dd>
                                <dt>"Lead"</dt><dd class="muted">{l.lead_id}</dd>
                            </dl>
                            {(!l.comments.trim().is_empty()).then(|| view! {
                                <div class="comments">
                                    <h3>"Comments"</h3>
                                    <p>{l.comments.clone()}</p>
                                </div>
                            })}
                            {ghl_view}
                        </article>
                    }.into_any()
                }
            }}
        </section>
    }
}
