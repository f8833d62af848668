//! Small facts kept for this tab (`sessionStorage`: gone when the tab closes, kept across a
//! reload). Never anything secret.

fn session() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// `sessionStorage[key]`.
pub fn tab_get(key: &str) -> Option<String> {
    session()?.get_item(key).ok()?
}

/// Sets `sessionStorage[key]`; storage errors are ignored (the fact is a convenience).
pub fn tab_set(key: &str, value: &str) {
    if let Some(s) = session() {
        let _ = s.set_item(key, value);
    }
}
