//! The mandatory disposition modal: shown whenever the server holds a call in wrap-up, and
//! impossible to get around. Focus moves into it and stays there (Tab and Shift+Tab cycle),
//! the page behind is `inert`, Escape, a click outside and Back do nothing, and a reload brings
//! it back (the wrap-up is the server's). The campaign's hotkeys pick statuses; a callback
//! status asks for a date and time in the agent's own zone, and who may take it.

use dialdeck_shared::{
    CallbackRequest, CallbackRules, DispositionAccepted, DispositionRequest, Hotkey, Recipient,
    StatusOption, WrapupInfo,
};
use leptos::{portal::Portal, prelude::*};

use super::{desk::DeskCtx, recent::local_time, toast::ToastBody, words::push_number, ModalOpen};
use crate::shell::{
    focus, history,
    http::{self, HttpError},
    keyboard::{self, KeyPress},
    time::{self, LocalMinute},
};

/// The modal's element id (focus is kept inside it).
const MODAL_ID: &str = "dispo-modal";

/// Longest callback comments VICIdial keeps.
const CALLBACK_COMMENTS_MAX: usize = 200;

/// The status a hotkey picks, if `key` is one of the campaign's hotkeys for a status the
/// modal offers.
pub fn hotkey_status(hotkeys: &[Hotkey], statuses: &[StatusOption], key: &str) -> Option<String> {
    let mut chars = key.chars();
    let (Some(k), None) = (chars.next(), chars.next()) else {
        return None;
    };
    hotkeys
        .iter()
        .find(|h| h.key == k && ('1'..='9').contains(&k))
        .filter(|h| statuses.iter().any(|s| s.status == h.status))
        .map(|h| h.status.clone())
}

/// The id of a status's radio button.
fn status_input_id(status: &str) -> String {
    let mut id = String::from("status-");
    id.push_str(status);
    id
}

/// Days from 1970-01-01 to a civil date (proleptic Gregorian; H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count from 1970-01-01.
fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

fn push_two(s: &mut String, n: u32) {
    s.push(char::from(b'0' + (n / 10 % 10) as u8));
    s.push(char::from(b'0' + (n % 10) as u8));
}

/// `YYYY-MM-DDTHH:MM`, as `<input type="datetime-local">` reads and writes it.
pub fn datetime_local(m: LocalMinute) -> String {
    let mut s = String::with_capacity(16);
    push_number(&mut s, m.year.max(0) as u64);
    s.push('-');
    push_two(&mut s, m.month);
    s.push('-');
    push_two(&mut s, m.day);
    s.push('T');
    push_two(&mut s, m.hour);
    s.push(':');
    push_two(&mut s, m.minute);
    s
}

/// The earliest and latest callback times the picker allows, from the agent's local time
/// `now`: from the next minute, to the end of the day `days_limit` days ahead
/// (`callback_days_limit`; 0 is no limit).
pub fn callback_bounds(now: LocalMinute, days_limit: u32) -> (String, Option<String>) {
    let today = days_from_civil(now.year, now.month, now.day);
    let minutes = now.hour * 60 + now.minute + 1;
    let (day, minutes) = if minutes >= 24 * 60 {
        (today + 1, 0)
    } else {
        (today, minutes)
    };
    let (year, month, d) = civil_from_days(day);
    let min = datetime_local(LocalMinute {
        year,
        month,
        day: d,
        hour: minutes / 60,
        minute: minutes % 60,
    });
    let max = (days_limit > 0).then(|| {
        let (year, month, day) = civil_from_days(today + i64::from(days_limit));
        datetime_local(LocalMinute {
            year,
            month,
            day,
            hour: 23,
            minute: 59,
        })
    });
    (min, max)
}

/// Whether `value` (from the picker) is a callback time the campaign allows.
pub fn callback_time_problem(value: &str, min: &str, max: Option<&str>) -> Option<String> {
    let v = value.get(..16).unwrap_or(value);
    let shaped = v.len() == 16
        && v.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            13 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Some("Pick the callback date and time.".into());
    }
    if v < min {
        return Some("The callback must be in the future.".into());
    }
    if let Some(max) = max.filter(|m| v > *m) {
        let mut s = String::from("Callbacks can be set up to ");
        s.push_str(&max[..10]);
        s.push_str(" in this campaign.");
        return Some(s);
    }
    None
}

/// What is wrong with callback comments, if anything: VICIdial keeps 200 characters of
/// letters, digits, spaces and `- . _`.
pub fn comment_problem(s: &str) -> Option<&'static str> {
    if s.chars().count() > CALLBACK_COMMENTS_MAX {
        Some("Callback comments are 200 characters at most.")
    } else if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '.' | '_'))
    {
        Some("Callback comments may use letters, digits, spaces and - . _ only.")
    } else {
        None
    }
}

/// Who a new callback is for at first: "Me" when the agent may keep callbacks (VICIdial's
/// `agentonly_callbacks`) and the campaign checks it, else anyone.
pub fn default_recipient(rules: &CallbackRules) -> Recipient {
    if rules.me_allowed && rules.me_by_default {
        Recipient::UserOnly
    } else {
        Recipient::Anyone
    }
}

/// The modal for the call in `wrapup`.
#[component]
pub fn DispositionModal(wrapup: WrapupInfo) -> impl IntoView {
    let ctx = expect_context::<DeskCtx>();
    let modal_open = expect_context::<ModalOpen>().0;
    modal_open.set(true);
    on_cleanup(move || modal_open.set(false));
    history::hold_back();
    focus::keep_inside(MODAL_ID);
    focus::focus_first_soon(MODAL_ID);

    // One key per opening: a retried save is the same disposition.
    let key = http::idempotency_key();
    let lead_id = wrapup.lead_id;
    let statuses = Memo::new(move |_| {
        ctx.campaign
            .with(|c| c.as_ref().map(|c| c.statuses.clone()).unwrap_or_default())
    });
    let hotkeys = Memo::new(move |_| {
        ctx.campaign
            .with(|c| c.as_ref().map(|c| c.hotkeys.clone()).unwrap_or_default())
    });
    let rules = Memo::new(move |_| ctx.campaign.with(|c| c.as_ref().map(|c| c.callbacks)));
    let chosen = RwSignal::new(String::new());
    let notes = RwSignal::new(String::new());
    // The statuses may arrive after the modal opened (a reload): focus goes to them then,
    // unless the agent has started on the notes.
    let statuses_focused = StoredValue::new(false);
    Effect::new(move |_| {
        if !statuses.with(Vec::is_empty) && !statuses_focused.get_value() {
            statuses_focused.set_value(true);
            if notes.with_untracked(String::is_empty) {
                focus::focus_first_soon(MODAL_ID);
            }
        }
    });

    let cb_at = RwSignal::new(String::new());
    let cb_recipient = RwSignal::new(None::<Recipient>);
    let cb_comments = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let zone = StoredValue::new(time::time_zone());

    let recipient = move || {
        cb_recipient
            .get()
            .or_else(|| rules.get().map(|r| default_recipient(&r)))
            .unwrap_or(Recipient::UserOnly)
    };
    let chosen_option = move || {
        let c = chosen.get();
        statuses.with(|s| s.iter().find(|s| s.status == c).cloned())
    };
    let is_callback = move || chosen_option().is_some_and(|s| s.scheduled_callback);
    let bounds = move || {
        let days = rules.get().map(|r| r.days_limit).unwrap_or(0);
        callback_bounds(time::local_now(), days)
    };

    let save = Action::new_local(|req: &DispositionRequest| {
        let req = req.clone();
        async move { http::post_json::<_, DispositionAccepted>("/api/dispositions", &req).await }
    });
    Effect::new(move |_| match save.value().get() {
        Some(Ok(accepted)) => {
            let label = untrack(chosen_option)
                .map(|s| s.name)
                .unwrap_or_else(|| chosen.get_untracked());
            ctx.toasts.show(ToastBody::Disposition {
                id: accepted.id.clone(),
                label,
            });
            ctx.disposition_seen(accepted);
            ctx.calls_version.update(|v| *v += 1);
            ctx.state.update(|s| {
                if let Some(s) = s {
                    s.wrapup = None;
                }
            });
        }
        Some(Err(e)) => {
            let text = match &e {
                HttpError::Api { body, .. } => body.message.clone(),
                other => {
                    let mut s = String::from("Not saved: cannot reach dialdeck's server (");
                    s.push_str(&other.to_string());
                    s.push_str("). Try again.");
                    s
                }
            };
            error.set(Some(text));
        }
        None => {}
    });
    let submit = move || {
        if save.pending().get_untracked() {
            return;
        }
        let Some(status) = chosen_option() else {
            error.set(Some("Choose a disposition.".into()));
            return;
        };
        let callback = if status.scheduled_callback {
            let (min, max) = bounds();
            let at = cb_at.get_untracked();
            if let Some(p) = callback_time_problem(&at, &min, max.as_deref()) {
                error.set(Some(p));
                focus::focus_id("cb-at");
                return;
            }
            let comments = cb_comments.get_untracked();
            if let Some(p) = comment_problem(&comments) {
                error.set(Some(p.into()));
                focus::focus_id("cb-comments");
                return;
            }
            Some(CallbackRequest {
                at_local: at[..16].to_string(),
                time_zone: time::time_zone(),
                recipient: recipient(),
                comments,
            })
        } else {
            None
        };
        error.set(None);
        save.dispatch(DispositionRequest {
            id: key.clone(),
            lead_id,
            status: status.status,
            callback,
            notes: notes.get_untracked(),
        });
    };
    let submit_form = {
        let submit = submit.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            submit();
        }
    };
    let keydown = move |ev: leptos::ev::KeyboardEvent| {
        let k = KeyPress::of(&ev);
        match k.key.as_str() {
            // Nothing closes the modal but a saved disposition.
            "Escape" => keyboard::consume(&ev),
            "Tab" if !k.ctrl && !k.alt && !k.meta => {
                keyboard::consume(&ev);
                focus::cycle(MODAL_ID, k.shift);
            }
            "Enter" if k.ctrl || k.meta => {
                keyboard::consume(&ev);
                submit();
            }
            key if k.plain() && !k.in_text => {
                if let Some(status) = statuses.with(|s| hotkeys.with(|h| hotkey_status(h, s, key)))
                {
                    keyboard::consume(&ev);
                    focus::focus_id(&status_input_id(&status));
                    chosen.set(status);
                    error.set(None);
                }
            }
            _ => {}
        }
    };
    let who = move || {
        ctx.lead
            .with(|l| match l.as_ref().filter(|l| l.lead_id == lead_id) {
                Some(l) => {
                    let mut s = String::new();
                    s.push_str(l.first_name.trim());
                    if !l.last_name.trim().is_empty() {
                        s.push(' ');
                        s.push_str(l.last_name.trim());
                    }
                    if !s.is_empty() {
                        s.push_str(" · ");
                    }
                    s.push_str(&l.phone);
                    s
                }
                None => {
                    let mut s = String::from("Lead ");
                    push_number(&mut s, lead_id.max(0) as u64);
                    s
                }
            })
    };
    let ended = local_time(wrapup.ended_at);

    view! {
        <Portal>
            <div class="modal-backdrop" on:mousedown=|ev| ev.prevent_default()>
                <div class="modal" role="dialog" aria-modal="true" aria-labelledby="dispo-title"
                    aria-describedby="dispo-who" id=MODAL_ID on:keydown=keydown.clone()>
                    <header class="modal-head">
                        <h2 id="dispo-title">"Disposition"</h2>
                        <p class="muted" id="dispo-who">{who}" · call ended "{ended.clone()}</p>
                    </header>
                    <form id="dispo-form" on:submit=submit_form.clone() novalidate>
                        {move || ctx.campaign_error.get().map(|e| view! { <p class="warning">{e}</p> })}
                        <fieldset class="statuses">
                            <legend>"Outcome"
                                {move || (!hotkeys.with(Vec::is_empty)).then(|| view! {
                                    <span class="legend-hint">"press "<kbd>"1"</kbd>"–"<kbd>"9"</kbd></span>
                                })}
                            </legend>
                            {move || statuses.with(Vec::is_empty).then(|| view! {
                                <p class="muted">"Loading the campaign's statuses…"</p>
                            })}
                            <For each=move || statuses.get() key=|s| s.status.clone() let:s>
                                {
                                    let code = s.status.clone();
                                    let code2 = s.status.clone();
                                    let code3 = s.status.clone();
                                    let hotkey = move || hotkeys.with(|h| h.iter().find(|h| h.status == code3).map(|h| h.key.to_string()));
                                    let off = s.scheduled_callback && rules.get().is_some_and(|r| !r.allowed);
                                    view! {
                                        <label class="status-option" class:off=off
                                            class:sale=s.sale class:dnc=s.dnc class:cb=s.scheduled_callback
                                            class:chosen=move || chosen.with(|c| *c == code2)>
                                            <input type="radio" name="status" value=s.status.clone()
                                                id=status_input_id(&s.status)
                                                disabled=off
                                                prop:checked=move || chosen.with(|c| *c == code)
                                                on:change={let code = s.status.clone(); move |_| { chosen.set(code.clone()); error.set(None); }} />
                                            <span class="status-name">{s.name.clone()}
                                                <span class="code">{s.status.clone()}
                                                    {s.sale.then_some(" · sale")}
                                                    {s.dnc.then_some(" · do not call")}
                                                    {s.scheduled_callback.then_some(" · callback")}
                                                </span>
                                            </span>
                                            {move || hotkey().map(|k| view! { <kbd class="hotkey" aria-label="hotkey">{k}</kbd> })}
                                        </label>
                                    }
                                }
                            </For>
                        </fieldset>
                        {move || is_callback().then(|| {
                            let (min, max) = bounds();
                            let me_allowed = rules.get().is_some_and(|r| r.me_allowed);
                            view! {
                                <fieldset class="callback" id="callback-fields">
                                    <legend>"Callback"</legend>
                                    <label for="cb-at">"Date and time "
                                        <span class="muted" id="cb-zone">{"("}{zone.get_value()}{")"}</span>
                                    </label>
                                    <input id="cb-at" type="datetime-local" min=min max=max
                                        required bind:value=cb_at />
                                    <div class="recipient" role="radiogroup" aria-label="Who takes the callback">
                                        {me_allowed.then(|| view! {
                                            <label class="inline">
                                                <input type="radio" name="cb-recipient" id="cb-me"
                                                    prop:checked=move || recipient() == Recipient::UserOnly
                                                    on:change=move |_| cb_recipient.set(Some(Recipient::UserOnly)) />
                                                "Me"
                                            </label>
                                        })}
                                        <label class="inline">
                                            <input type="radio" name="cb-recipient" id="cb-anyone"
                                                prop:checked=move || recipient() == Recipient::Anyone
                                                on:change=move |_| cb_recipient.set(Some(Recipient::Anyone)) />
                                            "Anyone in the campaign"
                                        </label>
                                        {(!me_allowed).then(|| view! {
                                            <span class="muted">"(VICIdial lets your user set callbacks for anyone only)"</span>
                                        })}
                                    </div>
                                    <label for="cb-comments">"Callback comments"</label>
                                    <input id="cb-comments" maxlength="200" autocomplete="off"
                                        bind:value=cb_comments />
                                </fieldset>
                            }
                        })}
                        <label for="dispo-notes">"Notes"</label>
                        <textarea id="dispo-notes" rows="3" maxlength="2000" bind:value=notes></textarea>
                        <p id="dispo-error" class="form-error" role="alert">{move || error.get()}</p>
                        <div class="modal-actions">
                            <span class="muted">"Saving is the only way out of this window."</span>
                            <button type="submit" id="dispo-submit" class="primary"
                                disabled=move || save.pending().get()>
                                {move || if save.pending().get() { "Saving…" } else { "Save disposition" }}
                                <kbd>"Ctrl+Enter"</kbd>
                            </button>
                        </div>
                    </form>
                </div>
            </div>
        </Portal>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: &str, cb: bool) -> StatusOption {
        StatusOption {
            status: code.into(),
            name: code.into(),
            sale: false,
            dnc: false,
            scheduled_callback: cb,
        }
    }

    fn hotkey(key: char, status: &str) -> Hotkey {
        Hotkey {
            key,
            status: status.into(),
            name: status.into(),
        }
    }

    #[test]
    fn hotkeys_pick_only_offered_statuses() {
        let statuses = [
            status("SALE", false),
            status("CALLBK", true),
            status("NI", false),
        ];
        let hotkeys = [
            hotkey('1', "SALE"),
            hotkey('2', "CALLBK"),
            hotkey('3', "XFER"),
            hotkey('0', "NI"),
        ];
        assert_eq!(
            hotkey_status(&hotkeys, &statuses, "1").as_deref(),
            Some("SALE")
        );
        assert_eq!(
            hotkey_status(&hotkeys, &statuses, "2").as_deref(),
            Some("CALLBK")
        );
        assert_eq!(hotkey_status(&hotkeys, &statuses, "3"), None, "not offered");
        assert_eq!(
            hotkey_status(&hotkeys, &statuses, "0"),
            None,
            "keys are 1 to 9"
        );
        assert_eq!(hotkey_status(&hotkeys, &statuses, "4"), None);
        assert_eq!(hotkey_status(&hotkeys, &statuses, "F1"), None);
    }

    fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> LocalMinute {
        LocalMinute {
            year,
            month,
            day,
            hour,
            minute,
        }
    }

    #[test]
    fn callback_times_run_from_the_next_minute_to_the_days_limit() {
        assert_eq!(
            callback_bounds(at(2026, 12, 2, 14, 5), 0),
            ("2026-12-02T14:06".into(), None)
        );
        assert_eq!(
            callback_bounds(at(2026, 12, 30, 9, 0), 3),
            ("2026-12-30T09:01".into(), Some("2027-01-02T23:59".into()))
        );
        // Across midnight and a leap day.
        assert_eq!(
            callback_bounds(at(2028, 2, 28, 23, 59), 1),
            ("2028-02-29T00:00".into(), Some("2028-02-29T23:59".into()))
        );
        let (min, max) = callback_bounds(at(2026, 12, 2, 14, 5), 7);
        assert_eq!(max.as_deref(), Some("2026-12-09T23:59"));
        assert_eq!(
            callback_time_problem("2026-12-03T10:30", &min, max.as_deref()),
            None
        );
        assert_eq!(
            callback_time_problem("2026-12-03T10:30:00", &min, max.as_deref()),
            None,
            "seconds are ignored"
        );
        assert_eq!(
            callback_time_problem("", &min, max.as_deref()).as_deref(),
            Some("Pick the callback date and time.")
        );
        assert_eq!(
            callback_time_problem("2026-12-02T14:05", &min, max.as_deref()).as_deref(),
            Some("The callback must be in the future.")
        );
        assert_eq!(
            callback_time_problem("2026-12-10T08:00", &min, max.as_deref()).as_deref(),
            Some("Callbacks can be set up to 2026-12-09 in this campaign.")
        );
    }

    #[test]
    fn callback_comments_and_recipient_follow_vicidial() {
        assert_eq!(comment_problem("Call after 5pm - ask for Ann."), None);
        assert!(comment_problem("naïve").is_some());
        assert!(comment_problem(&"a".repeat(201)).is_some());
        let rules = |me_allowed, me| CallbackRules {
            allowed: true,
            me_allowed,
            me_by_default: me,
            days_limit: 0,
        };
        assert_eq!(default_recipient(&rules(true, true)), Recipient::UserOnly);
        assert_eq!(default_recipient(&rules(true, false)), Recipient::Anyone);
        assert_eq!(
            default_recipient(&rules(false, true)),
            Recipient::Anyone,
            "Me only where VICIdial lets the agent keep callbacks"
        );
    }

    #[test]
    fn civil_dates_round_trip() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2026, 12, 31), (2100, 3, 1)] {
            assert_eq!(civil_from_days(days_from_civil(y, m, d)), (y, m, d));
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
    }
}
