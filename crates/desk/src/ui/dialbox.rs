//! The one way to call: a number typed (or tapped on the pad) with its country, checked by the
//! server (`POST /api/phone/check`, the formatted number shown), and dialled through VICIdial
//! (`POST /api/call/dial`). The Dial button is off whenever a dial cannot work, and says why.
//! In a call the pad sends tones to the customer through VICIdial (`POST /api/call/dtmf`).

use dialdeck_shared::{AgentState, Country, DialBlock, DialRequest, PhoneCheck, PhoneCheckRequest};
use leptos::prelude::*;
use serde::Serialize;

use super::{
    desk::{keys, DeskCtx},
    words::Phase,
};
use crate::shell::{
    clock,
    http::{self, HttpError},
    keyboard::{self, KeyPress},
    time,
};

/// Local storage key of the agent's last country (a preference, not a secret).
const COUNTRY_KEY: &str = "dialdeck.desk.country";

/// Time between two DTMF requests (VICIdial's screen polls about once a second).
const DTMF_SPACING_MS: u32 = 1_200;

/// The most digits an international number has (E.164).
const MAX_DIGITS: usize = 15;

/// What is wrong with a typed number before the server is asked, if anything.
pub fn number_problem(input: &str) -> Option<&'static str> {
    let s = input.trim();
    if s.is_empty() {
        return Some("Enter a number to dial.");
    }
    let mut digits = 0;
    for (i, c) in s.chars().enumerate() {
        match c {
            '0'..='9' => digits += 1,
            '+' if i == 0 => {}
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => return Some("Enter a valid number: digits, spaces and + ( ) - . only."),
        }
    }
    if digits < 4 {
        Some("Enter a valid number: too few digits.")
    } else if digits > MAX_DIGITS {
        Some("Enter a valid number: too many digits.")
    } else {
        None
    }
}

/// The server's reading of the number in the box.
#[derive(Clone, Debug, PartialEq)]
pub enum Check {
    /// Not asked (nothing typed, or it failed the local sanity check).
    NotAsked,
    /// Being asked.
    Checking,
    /// A number VICIdial can dial.
    Valid(PhoneCheck),
    /// Not a valid number, with the server's sentence.
    Invalid(String),
    /// The check itself failed (the dial will check again).
    Unavailable(String),
}

/// Why Dial is off now, or `None` when it is on.
pub fn dial_reason(
    state: Option<&AgentState>,
    dialling: bool,
    number: &str,
    check: &Check,
) -> Option<String> {
    let Some(state) = state else {
        return Some("Connecting to VICIdial…".into());
    };
    if let Some(block) = state.dial_block() {
        return Some(block.message().into());
    }
    if dialling {
        return Some("Dialling…".into());
    }
    if let Some(p) = number_problem(number) {
        return Some(p.into());
    }
    match check {
        Check::Invalid(why) => Some(why.clone()),
        _ => None,
    }
}

/// A refused dial (or hang-up) in words.
pub fn dial_refusal_text(err: &HttpError) -> String {
    let HttpError::Api { body, .. } = err else {
        let mut s = String::from("Cannot reach dialdeck's server: nothing was done (");
        s.push_str(&err.to_string());
        s.push(')');
        return s;
    };
    let blocks = [
        DialBlock::NoSession,
        DialBlock::ScreenNotConnected,
        DialBlock::PhoneNotInSession,
        DialBlock::InCall,
        DialBlock::WrapUp,
        DialBlock::DispoStep,
        DialBlock::NotPaused,
    ];
    if let Some(b) = blocks.iter().find(|b| b.code() == body.code) {
        return b.message().into();
    }
    let lead = match body.code.as_str() {
        "dial_withdrawn" => "VICIdial did not place the call, and dialdeck withdrew it: ",
        "dial_not_confirmed" => "VICIdial has not placed the call: ",
        "invalid_phone_number" | "invalid_country" => "",
        "hangup_not_confirmed" => "VICIdial has not hung up yet: ",
        _ => "",
    };
    let mut s = String::from(lead);
    s.push_str(&body.message);
    s
}

/// The pad's keys, with the letters phones print on them.
const PAD: [(char, &str, &str); 12] = [
    ('1', "1", ""),
    ('2', "2", "ABC"),
    ('3', "3", "DEF"),
    ('4', "4", "GHI"),
    ('5', "5", "JKL"),
    ('6', "6", "MNO"),
    ('7', "7", "PQRS"),
    ('8', "8", "TUV"),
    ('9', "9", "WXYZ"),
    ('*', "star", ""),
    ('0', "0", "+"),
    ('#', "hash", ""),
];

/// The pad key a key press means, if any.
pub fn pad_key(k: &KeyPress) -> Option<char> {
    let mut chars = k.key.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if k.plain() && PAD.iter().any(|(p, _, _)| *p == c) => Some(c),
        _ => None,
    }
}

#[derive(Serialize)]
struct DtmfBody {
    digits: String,
}

/// The dial box and pad.
#[component]
pub fn DialBox() -> impl IntoView {
    let ctx = expect_context::<DeskCtx>();
    let number = ctx.number;
    let country = RwSignal::new(String::new());
    let countries = Memo::new(move |_| {
        ctx.campaign.with(|c| {
            let mut list: Vec<Country> =
                c.as_ref().map(|c| c.countries.clone()).unwrap_or_default();
            list.sort_by(|a, b| a.name.cmp(&b.name));
            list
        })
    });
    // The agent's last country if the campaign offers it, else the campaign's default.
    Effect::new(move |_| {
        let Some(default) = ctx
            .campaign
            .with(|c| c.as_ref().map(|c| c.default_country.clone()))
        else {
            return;
        };
        if !country.get_untracked().is_empty() {
            return;
        }
        let last = clock::load(COUNTRY_KEY)
            .filter(|r| countries.with_untracked(|l| l.iter().any(|c| &c.region == r)));
        country.set(last.unwrap_or(default));
    });

    let check = RwSignal::new(Check::NotAsked);
    let checker = Action::new_local(|req: &PhoneCheckRequest| {
        let req = req.clone();
        async move {
            let result = http::post_json::<_, PhoneCheck>("/api/phone/check", &req).await;
            (req, result)
        }
    });
    let generation = StoredValue::new(0u32);
    // Ask the server once typing pauses.
    Effect::new(move |_| {
        let n = number.get();
        let region = country.get();
        generation.update_value(|g| *g += 1);
        let this = generation.get_value();
        if number_problem(&n).is_some() {
            check.set(Check::NotAsked);
            return;
        }
        check.set(Check::Checking);
        leptos::task::spawn_local(async move {
            time::sleep(350).await;
            if generation.try_get_value() == Some(this) {
                checker.dispatch(PhoneCheckRequest {
                    phone_number: n.trim().to_string(),
                    country: Some(region).filter(|r| !r.is_empty()),
                });
            }
        });
    });
    Effect::new(move |_| {
        let Some((req, result)) = checker.value().get() else {
            return;
        };
        let current = number.with_untracked(|n| n.trim() == req.phone_number)
            && country.with_untracked(|c| Some(c.as_str()) == req.country.as_deref());
        if !current {
            return;
        }
        check.set(match result {
            Ok(c) => Check::Valid(c),
            Err(HttpError::Api { body, .. }) if body.code == "invalid_phone_number" => {
                Check::Invalid(body.message)
            }
            Err(e) => Check::Unavailable(e.to_string()),
        });
    });

    let dialling = move || ctx.dial.pending().get();
    let reason = move || {
        let n = number.get();
        check.with(|c| {
            ctx.state
                .with(|s| dial_reason(s.as_ref(), dialling(), &n, c))
        })
    };
    let dial = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if reason().is_some() {
            return;
        }
        ctx.dial_error.set(None);
        ctx.dial.dispatch(DialRequest {
            phone_number: Some(number.get_untracked().trim().to_string()),
            country: Some(country.get_untracked()).filter(|c| !c.is_empty()),
            lead_id: None,
            callback_id: None,
        });
    };

    let in_call = move || ctx.phase() == Some(Phase::InCall);
    let idle = move || !ctx.phase().is_some_and(Phase::has_call);
    let sent = RwSignal::new(String::new());
    let dtmf = Action::new_local(|digits: &String| {
        let body = DtmfBody {
            digits: digits.clone(),
        };
        async move { http::post("/api/call/dtmf", Some(&body)).await }
    });
    let dtmf_error = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        if let Some(r) = dtmf.value().get() {
            dtmf_error.set(r.err().map(|e| e.to_string()));
        }
    });
    // A new call starts with no tones sent.
    Effect::new(move |_| {
        let _ = ctx.state.with(|s| {
            s.as_ref()
                .and_then(|s| s.call.as_ref().map(|c| c.call_id.clone()))
        });
        sent.set(String::new());
    });
    // VICIdial's screen takes queued tones about once a second and a new request replaces
    // one it has not taken yet: tones pressed meanwhile wait and go together.
    let queued = RwSignal::new(String::new());
    let cooling = RwSignal::new(false);
    Effect::new(move |_| {
        if dtmf.pending().get() || cooling.get() || queued.with(String::is_empty) {
            return;
        }
        let digits = queued.get_untracked();
        queued.set(String::new());
        dtmf.dispatch(digits);
        cooling.set(true);
        leptos::task::spawn_local(async move {
            time::sleep(DTMF_SPACING_MS).await;
            let _ = cooling.try_set(false);
        });
    });
    let press = move |key: char| {
        if in_call() {
            sent.update(|s| s.push(key));
            queued.update(|q| q.push(key));
        } else if idle() {
            number.update(|n| n.push(key));
        }
    };
    let pad_keydown = move |ev: leptos::ev::KeyboardEvent| {
        let k = KeyPress::of(&ev);
        if let Some(c) = pad_key(&k) {
            keyboard::consume(&ev);
            press(c);
        } else if k.key == "Backspace" && idle() {
            keyboard::consume(&ev);
            number.update(|n| {
                n.pop();
            });
        }
    };
    let pad = PAD
        .iter()
        .map(|&(key, id, letters)| {
            view! {
                <button type="button" class="pad-key" id=format!("pad-{id}")
                    disabled=move || !(in_call() || idle())
                    aria-label=move || if in_call() { format!("Send tone {key}") } else { format!("Type {key}") }
                    on:click=move |_| press(key)>
                    <span class="pad-digit">{key.to_string()}</span>
                    <span class="pad-letters">{letters}</span>
                </button>
            }
        })
        .collect_view();

    view! {
        <section class="card dial-card" aria-labelledby="dial-title">
            <h2 id="dial-title" class="card-title">"Dial"</h2>
            <form id="dial-form" class="dial-form" on:submit=dial novalidate>
                <div class="dial-row">
                    <label class="sr-only" for="dial-country">"Country"</label>
                    <select id="dial-country" class="dial-country"
                        prop:value=move || country.get()
                        disabled=move || !idle()
                        on:change=move |ev| {
                            let region = event_target_value(&ev);
                            clock::store(COUNTRY_KEY, &region);
                            country.set(region);
                        }>
                        {move || countries.get().into_iter().map(|c| {
                            // Region and code first: they stay readable when the box is narrow.
                            let mut label = c.region.clone();
                            label.push_str(" +");
                            super::words::push_number(&mut label, u64::from(c.calling_code));
                            label.push_str(" · ");
                            label.push_str(&c.name);
                            view! { <option value=c.region.clone()>{label}</option> }
                        }).collect_view()}
                    </select>
                    <label class="sr-only" for="dial-number">"Number to dial"</label>
                    <input id="dial-number" class="dial-number" inputmode="tel" autocomplete="off"
                        placeholder="Number" aria-keyshortcuts=keys::FOCUS_NUMBER
                        aria-describedby="dial-check dial-reason"
                        disabled=move || !idle()
                        bind:value=number />
                </div>
                <p id="dial-check" class="dial-check" aria-live="polite">
                    {move || match check.get() {
                        Check::Valid(c) => {
                            let mut s = String::from("✓ ");
                            s.push_str(&c.formatted);
                            view! { <span class="ok-text">{s}</span> }.into_any()
                        }
                        Check::Checking => view! { <span class="muted">"Checking the number…"</span> }.into_any(),
                        Check::Unavailable(why) => {
                            let mut s = String::from("The number could not be checked (");
                            s.push_str(&why);
                            s.push_str("); VICIdial checks it when you dial.");
                            view! { <span class="muted">{s}</span> }.into_any()
                        }
                        Check::Invalid(_) | Check::NotAsked => ().into_any(),
                    }}
                </p>
                <div id="keypad" class="keypad" role="group"
                    aria-label=move || if in_call() { "Keypad: tones to the customer" } else { "Keypad" }
                    on:keydown=pad_keydown>
                    {pad}
                </div>
                {move || in_call().then(|| view! {
                    <p class="dtmf-line" id="dtmf-sent" aria-live="polite">
                        {move || if sent.with(String::is_empty) {
                            "The keypad sends tones to the customer.".to_string()
                        } else {
                            let mut s = String::from("Tones sent: ");
                            s.push_str(&sent.get());
                            s
                        }}
                    </p>
                })}
                {move || dtmf_error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <button type="submit" id="dial-button" class="primary wide"
                    disabled=move || reason().is_some()
                    aria-describedby="dial-reason">
                    {move || if dialling() { "Dialling…" } else { "Dial" }}
                    <kbd>"Enter"</kbd>
                </button>
                {move || ctx.dial_error.get().map(|e| view! {
                    <p class="form-error" id="dial-error" role="alert">{e}</p>
                })}
                <p id="dial-reason" class="why" aria-live="polite">
                    {move || reason().filter(|_| !dialling())}
                </p>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dialdeck_shared::{AgentStatus, ApiErrorBody, ScreenLink, SubStatus};

    fn ready_state() -> AgentState {
        AgentState {
            screen: ScreenLink::Connected,
            status: Some(AgentStatus::Paused),
            sub_status: SubStatus::None,
            lead_id: 0,
            conf_exten: "8600051".into(),
            phone_in_session: true,
            call: None,
            pause_code: String::new(),
            wrapup: None,
        }
    }

    #[test]
    fn a_typed_number_gets_a_light_sanity_check() {
        assert_eq!(number_problem("  "), Some("Enter a number to dial."));
        assert_eq!(number_problem("(312) 555-1001"), None);
        assert_eq!(number_problem("+44 20 7946 0000"), None);
        assert!(number_problem("312x5551001")
            .unwrap()
            .starts_with("Enter a valid number"));
        assert!(number_problem("31+25551001").is_some(), "+ only in front");
        assert_eq!(
            number_problem("123"),
            Some("Enter a valid number: too few digits.")
        );
        assert_eq!(
            number_problem("1234567890123456"),
            Some("Enter a valid number: too many digits.")
        );
    }

    #[test]
    fn the_dial_button_always_says_why_it_is_off() {
        let s = ready_state();
        assert_eq!(
            dial_reason(None, false, "3125551001", &Check::NotAsked).as_deref(),
            Some("Connecting to VICIdial…")
        );
        assert_eq!(
            dial_reason(Some(&s), false, "3125551001", &Check::Checking),
            None
        );
        assert_eq!(
            dial_reason(Some(&s), false, "", &Check::NotAsked).as_deref(),
            Some("Enter a number to dial.")
        );
        assert_eq!(
            dial_reason(
                Some(&s),
                false,
                "31255",
                &Check::Invalid("Not a US number.".into())
            )
            .as_deref(),
            Some("Not a US number.")
        );
        assert_eq!(
            dial_reason(
                Some(&s),
                false,
                "3125551001",
                &Check::Unavailable("x".into())
            ),
            None,
            "a check that could not run does not block: the dial is checked again"
        );
        let mut blocked = s.clone();
        blocked.phone_in_session = false;
        assert_eq!(
            dial_reason(Some(&blocked), false, "3125551001", &Check::NotAsked).as_deref(),
            Some(DialBlock::PhoneNotInSession.message())
        );
        assert_eq!(
            dial_reason(Some(&s), true, "3125551001", &Check::NotAsked).as_deref(),
            Some("Dialling…")
        );
    }

    #[test]
    fn dial_refusals_are_in_words() {
        let api = |code: &str, message: &str| HttpError::Api {
            status: 409,
            body: ApiErrorBody {
                code: code.into(),
                message: message.into(),
            },
            retry_after: None,
        };
        assert_eq!(
            dial_refusal_text(&api("phone_not_in_session", "x")),
            DialBlock::PhoneNotInSession.message()
        );
        assert_eq!(
            dial_refusal_text(&api("screen_not_connected", "x")),
            DialBlock::ScreenNotConnected.message()
        );
        assert_eq!(
            dial_refusal_text(&api("dial_withdrawn", "the phone is not in the session conference.")),
            "VICIdial did not place the call, and dialdeck withdrew it: the phone is not in the session conference."
        );
        assert_eq!(
            dial_refusal_text(&api("invalid_phone_number", "Not a number.")),
            "Not a number."
        );
        assert!(dial_refusal_text(&HttpError::Unreachable("offline".into()))
            .starts_with("Cannot reach dialdeck's server"));
    }

    #[test]
    fn the_pad_answers_digits_star_and_hash() {
        let k = |key: &str| KeyPress {
            key: key.into(),
            ..KeyPress::default()
        };
        assert_eq!(pad_key(&k("5")), Some('5'));
        assert_eq!(
            pad_key(&KeyPress {
                shift: true,
                ..k("#")
            }),
            Some('#')
        );
        assert_eq!(pad_key(&k("*")), Some('*'));
        assert_eq!(pad_key(&k("a")), None);
        assert_eq!(pad_key(&k("F5")), None);
        assert_eq!(
            pad_key(&KeyPress {
                ctrl: true,
                ..k("1")
            }),
            None
        );
    }
}
