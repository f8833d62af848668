//! Messages that come and go (a disposition saved and where it is syncing), announced to
//! screen readers.

use leptos::prelude::*;

use super::{
    desk::DeskCtx,
    words::{target_tone, target_words},
};
use crate::shell::time;

/// How long a toast stays.
const TOAST_MS: u32 = 7_000;

/// What a toast says.
#[derive(Clone, Debug, PartialEq)]
pub enum ToastBody {
    /// A disposition: its status label and its targets' live states.
    Disposition {
        /// The disposition's id.
        id: String,
        /// What was saved, e.g. "Sale Made".
        label: String,
    },
}

/// The page's toasts.
#[derive(Clone, Copy)]
pub struct Toasts(RwSignal<Vec<(u32, ToastBody)>>, StoredValue<u32>);

impl Toasts {
    /// No toasts.
    pub fn new() -> Toasts {
        Toasts(RwSignal::new(Vec::new()), StoredValue::new(0))
    }

    /// Shows `body` for a few seconds.
    pub fn show(&self, body: ToastBody) {
        let id = self.1.get_value() + 1;
        self.1.set_value(id);
        self.0.update(|l| l.push((id, body)));
        let list = self.0;
        leptos::task::spawn_local(async move {
            time::sleep(TOAST_MS).await;
            list.try_update(|l| l.retain(|(i, _)| *i != id));
        });
    }
}

/// Renders the toasts.
#[component]
pub fn ToastStack() -> impl IntoView {
    let ctx = expect_context::<DeskCtx>();
    view! {
        <div class="toasts" id="toasts" role="status" aria-live="polite">
            <For each=move || ctx.toasts.0.get() key=|(i, _)| *i let:toast>
                {match toast.1 {
                    ToastBody::Disposition { id, label } => {
                        let targets = move || {
                            ctx.dispositions.with(|l| {
                                l.iter().find(|d| d.id == id).map(|d| d.targets.clone()).unwrap_or_default()
                            })
                        };
                        view! {
                            <div class="toast">
                                <strong>"Saved: "{label}</strong>
                                <ul class="sync-list">
                                    {move || targets().into_iter().map(|t| view! {
                                        <li class=target_tone(t.state)>{target_words(&t, ctx.now.get())}</li>
                                    }).collect_view()}
                                </ul>
                            </div>
                        }
                    }
                }}
            </For>
        </div>
    }
}
