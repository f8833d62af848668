//! VICIdial's own agent screen, kept logged in inside a hidden frame. Whenever VICIdial has
//! no session for the agent, or its screen stopped polling (a reload, a crashed frame), the
//! desk asks the server for the login form (`POST /api/agent/screen-login`: the server holds
//! the agent's password for it, so a reload needs no typing) and posts it into the frame;
//! attempts are spaced out with a growing delay, never in a tight loop, and the agent is told
//! when it keeps failing.

use dialdeck_shared::{FormField, ScreenLink, ScreenLoginForm};
use leptos::prelude::*;

use super::desk::DeskCtx;
use crate::shell::{frame, http, time};

/// Name of the hidden frame that holds VICIdial's agent screen.
pub const SCREEN_FRAME: &str = "vicidial-screen";

/// How long a posted login gets for VICIdial to see its screen poll before the attempt
/// counts as failed (vicidial.php loads, then polls about once a second).
const ATTEMPT_WINDOW_MS: u32 = 20_000;

/// After this many failed attempts in a row the desk says the screen does not connect.
pub const ATTEMPTS_BEFORE_ALARM: u32 = 3;

/// Where rejoining VICIdial's screen stands.
#[derive(Clone, Debug, PartialEq)]
pub enum Rejoin {
    /// Nothing to do: the screen polls (or the first state has not arrived).
    Idle,
    /// Attempt `attempt` is under way: the form was asked for and posted into the frame.
    Opening {
        /// 1 for the first attempt in a row.
        attempt: u32,
    },
    /// Attempt `attempt` failed; the next one starts at `retry_at` (server Unix seconds).
    Waiting {
        /// The attempt that failed.
        attempt: u32,
        /// When the next one starts.
        retry_at: i64,
        /// What went wrong, when the server or the browser said so.
        why: Option<String>,
    },
}

/// Seconds to wait after failed attempt `attempt` (1, 2, ...): 5, 10, 20, 40, then every
/// minute.
pub fn rejoin_delay_secs(attempt: u32) -> u32 {
    match attempt {
        0 | 1 => 5,
        2 => 10,
        3 => 20,
        4 => 40,
        _ => 60,
    }
}

/// What the desk says about VICIdial's screen, or `None` when there is nothing to say.
/// `reconnecting`: the screen was connected before in this page.
pub fn rejoin_notice(r: &Rejoin, reconnecting: bool, now: i64) -> Option<String> {
    let verb = if reconnecting {
        "Reconnecting VICIdial's agent screen…"
    } else {
        "Opening VICIdial's agent screen…"
    };
    match r {
        Rejoin::Idle => None,
        Rejoin::Opening { attempt } if *attempt <= ATTEMPTS_BEFORE_ALARM => Some(verb.into()),
        Rejoin::Opening { attempt } => {
            let mut s =
                String::from("VICIdial's agent screen does not connect: trying again (attempt ");
            super::words::push_number(&mut s, u64::from(*attempt));
            s.push_str("). If this goes on, tell your supervisor.");
            Some(s)
        }
        Rejoin::Waiting {
            attempt,
            retry_at,
            why,
        } => {
            let mut s = if *attempt < ATTEMPTS_BEFORE_ALARM {
                let mut s = String::from(verb);
                s.push_str(" Next attempt in ");
                s
            } else {
                let mut s = String::from("VICIdial's agent screen does not connect (");
                super::words::push_number(&mut s, u64::from(*attempt));
                s.push_str(" attempts). If this goes on, tell your supervisor. Next attempt in ");
                s
            };
            s.push_str(&super::words::wait_text(now, *retry_at));
            s.push('.');
            if let Some(why) = why {
                s.push_str(" (");
                s.push_str(why);
                s.push(')');
            }
            Some(s)
        }
    }
}

/// The form with the window's size in VICIdial's `JS_browser_width` / `JS_browser_height`
/// (vicidial.php lays its screen out by them, and PHP 8 fails without them).
pub fn with_window_size(mut fields: Vec<FormField>, width: u32, height: u32) -> Vec<FormField> {
    for (name, value) in [("JS_browser_width", width), ("JS_browser_height", height)] {
        let mut v = String::new();
        super::words::push_number(&mut v, u64::from(value));
        match fields.iter_mut().find(|f| f.name == name) {
            Some(f) => f.value = v,
            None => fields.push(FormField {
                name: name.into(),
                value: v,
            }),
        }
    }
    fields
}

/// Keeps VICIdial's screen logged in; renders the hidden frame. The notice goes to
/// `ctx.screen_notice` (the header shows it).
#[component]
pub fn VicidialScreen() -> impl IntoView {
    let ctx = expect_context::<DeskCtx>();
    let rejoin = RwSignal::new(Rejoin::Idle);
    // Each attempt's number, so a late step of an old attempt does nothing.
    let generation = StoredValue::new(0u32);
    let attempts = StoredValue::new(0u32);
    let was_connected = RwSignal::new(false);
    let needed = Memo::new(move |_| {
        ctx.state.with(|s| {
            s.as_ref()
                .map(|s| s.screen != ScreenLink::Connected)
                .unwrap_or(false)
        })
    });
    let connected = Memo::new(move |_| {
        ctx.state.with(|s| {
            s.as_ref()
                .is_some_and(|s| s.screen == ScreenLink::Connected)
        })
    });

    Effect::new(move |_| {
        if connected.get() {
            was_connected.set(true);
            attempts.set_value(0);
            generation.update_value(|g| *g += 1);
            rejoin.set(Rejoin::Idle);
        }
    });
    Effect::new(move |_| {
        if !needed.get() || rejoin.get() != Rejoin::Idle {
            return;
        }
        let attempt = attempts.get_value() + 1;
        attempts.set_value(attempt);
        generation.update_value(|g| *g += 1);
        let this = generation.get_value();
        let current = move || generation.try_get_value() == Some(this);
        rejoin.set(Rejoin::Opening { attempt });
        leptos::task::spawn_local(async move {
            let posted = match http::post_for::<ScreenLoginForm>("/api/agent/screen-login").await {
                Ok(form) => {
                    let (w, h) = frame::inner_size();
                    frame::post_to_frame(
                        SCREEN_FRAME,
                        &form.url,
                        &with_window_size(form.fields, w, h),
                    )
                    .map_err(|e| {
                        let mut s = String::from("the browser could not open it: ");
                        s.push_str(&e);
                        s
                    })
                }
                Err(e) => Err(e.to_string()),
            };
            if posted.is_ok() {
                time::sleep(ATTEMPT_WINDOW_MS).await;
            }
            if !current() {
                return;
            }
            let delay = rejoin_delay_secs(attempt);
            let _ = rejoin.try_set(Rejoin::Waiting {
                attempt,
                retry_at: time::server_now_secs() + i64::from(delay),
                why: posted.err(),
            });
            time::sleep(delay * 1000).await;
            if current() {
                let _ = rejoin.try_set(Rejoin::Idle);
            }
        });
    });
    // A screen that stopped polling existed: "reconnecting", even in a page just reloaded.
    let stale = Memo::new(move |_| {
        ctx.state.with(|s| {
            s.as_ref()
                .is_some_and(|s| matches!(s.screen, ScreenLink::NotPolling { .. }))
        })
    });
    Effect::new(move |_| {
        let reconnecting = was_connected.get() || stale.get();
        let notice = rejoin.with(|r| rejoin_notice(r, reconnecting, ctx.now.get()));
        ctx.screen_notice.set(notice);
    });

    view! {
        <iframe name=SCREEN_FRAME class="screen-frame" title="VICIdial agent screen"
            aria-hidden="true" tabindex="-1"></iframe>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejoining_backs_off_and_says_so_when_it_keeps_failing() {
        let delays: Vec<u32> = (1..=7).map(rejoin_delay_secs).collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60, 60]);
        assert_eq!(rejoin_notice(&Rejoin::Idle, true, 0), None);
        assert_eq!(
            rejoin_notice(&Rejoin::Opening { attempt: 1 }, true, 0).as_deref(),
            Some("Reconnecting VICIdial's agent screen…")
        );
        assert_eq!(
            rejoin_notice(&Rejoin::Opening { attempt: 1 }, false, 0).as_deref(),
            Some("Opening VICIdial's agent screen…")
        );
        let waiting = |attempt, why: Option<&str>| Rejoin::Waiting {
            attempt,
            retry_at: 110,
            why: why.map(Into::into),
        };
        assert_eq!(
            rejoin_notice(&waiting(1, None), true, 100).as_deref(),
            Some("Reconnecting VICIdial's agent screen… Next attempt in 10 s.")
        );
        let alarm =
            rejoin_notice(&waiting(3, Some("VICIdial is not answering")), true, 100).unwrap();
        assert_eq!(
            alarm,
            "VICIdial's agent screen does not connect (3 attempts). If this goes on, tell your \
             supervisor. Next attempt in 10 s. (VICIdial is not answering)"
        );
        assert!(rejoin_notice(&Rejoin::Opening { attempt: 4 }, true, 0)
            .unwrap()
            .contains("does not connect"));
    }

    #[test]
    fn the_login_form_carries_the_window_size() {
        let field = |n: &str, v: &str| FormField {
            name: n.into(),
            value: v.into(),
        };
        let fields = vec![
            field("DB", "0"),
            field("JS_browser_height", "640"),
            field("JS_browser_width", "800"),
            field("VD_login", "1001"),
        ];
        let out = with_window_size(fields, 1366, 768);
        assert_eq!(out[1], field("JS_browser_height", "768"));
        assert_eq!(out[2], field("JS_browser_width", "1366"));
        assert_eq!(out.len(), 4, "fields stay in VICIdial's order");
        let added = with_window_size(vec![field("VD_login", "1001")], 1024, 700);
        assert_eq!(
            added[1..],
            [
                field("JS_browser_width", "1024"),
                field("JS_browser_height", "700")
            ]
        );
    }
}
