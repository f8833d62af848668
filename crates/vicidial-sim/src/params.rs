//! Request parameters as VICIdial's PHP reads them: each name from the query string first
//! (`$_GET`), then from a form-encoded body (`$_POST`), and the input filters of reference §2.

use std::collections::HashMap;

/// The parameters of one request.
#[derive(Debug, Default, Clone)]
pub struct Params {
    get: HashMap<String, String>,
    post: HashMap<String, String>,
}

impl Params {
    /// Parses the raw query string and the (form-encoded) body.
    pub fn parse(query: Option<&str>, body: &[u8]) -> Params {
        let decode = |bytes: &[u8]| -> HashMap<String, String> {
            // For a repeated name the last value wins, as in PHP.
            form_urlencoded::parse(bytes).into_owned().collect()
        };
        Params {
            get: decode(query.unwrap_or("").as_bytes()),
            post: decode(body),
        }
    }

    /// The raw value of `name` (GET first, then POST), or `""`.
    pub fn raw(&self, name: &str) -> String {
        self.get
            .get(name)
            .or_else(|| self.post.get(name))
            .cloned()
            .unwrap_or_default()
    }

    /// Whether `name` was sent at all.
    pub fn has(&self, name: &str) -> bool {
        self.get.contains_key(name) || self.post.contains_key(name)
    }

    /// The value of `name` with every character outside `allowed` removed.
    pub fn filtered(&self, name: &str, allowed: fn(char) -> bool) -> String {
        self.raw(name).chars().filter(|c| allowed(*c)).collect()
    }
}

/// `[-_0-9a-zA-Z]`: `user`, `function`, `value` of most functions, `search`, `preview`, ...
pub fn word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `[0-9a-zA-Z]`: `source`, `agent_user`, `alt_user`, `group_alias`, `dial_prefix`.
pub fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// `[-.+/=_0-9a-zA-Z]`: `pass` (reference §2).
pub fn pass_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.+/=_".contains(c)
}

/// `[-|_0-9a-zA-Z]`: the Agent API `value` (reference §2).
pub fn value_char(c: char) -> bool {
    word(c) || c == '|'
}

/// `[0-9]`.
pub fn digit(c: char) -> bool {
    c.is_ascii_digit()
}

/// `[0-9X]`: `phone_code`.
pub fn phone_code_char(c: char) -> bool {
    c.is_ascii_digit() || c == 'X'
}

/// `[A-Z]`: `callback_type`, `alt_dial` (plus digits there), ...
pub fn upper(c: char) -> bool {
    c.is_ascii_uppercase()
}

/// `[- :._0-9a-zA-Z]`: `callback_datetime` after `+` became a space.
pub fn datetime_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "- :._".contains(c)
}

/// `[- ._0-9a-zA-Z]`: `callback_comments` after `+` became a space.
pub fn comment_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "- ._".contains(c)
}

/// The password as VICIdial hashes it (reference §7): cut at the first space, then only
/// `[-.+/=_0-9a-zA-Z]` kept.
pub fn filter_password(password: &str) -> String {
    password
        .split(' ')
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| pass_char(*c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_wins_over_post_and_filters_apply() {
        let p = Params::parse(
            Some("user=api%27user&value=12*3%23"),
            b"user=other&pass=p+w%21d",
        );
        assert_eq!(p.filtered("user", word), "apiuser");
        assert_eq!(p.filtered("value", value_char), "123");
        assert_eq!(p.raw("pass"), "p w!d");
        assert_eq!(filter_password(&p.raw("pass")), "p");
        assert!(!p.has("function"));
    }
}
