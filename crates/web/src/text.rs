//! Numbers in words with integer arithmetic only: `core::fmt`'s integer and float formatting
//! weighs kilobytes in the wasm, and these run on every clock tick.

/// Appends the decimal digits of `n`.
pub fn push_number(s: &mut String, n: u64) {
    if n >= 10 {
        push_number(s, n / 10);
    }
    s.push(char::from(b'0' + (n % 10) as u8));
}

/// Appends `n` with at least two digits (`07`).
pub fn push_two(s: &mut String, n: u64) {
    if n < 10 {
        s.push('0');
    }
    push_number(s, n);
}

/// Appends a signed `n` (`-3`).
pub fn push_signed(s: &mut String, n: i64) {
    if n < 0 {
        s.push('-');
    }
    push_number(s, n.unsigned_abs());
}

/// How long until `at` from `now`, for people: "20 s", "3 min", "2 h".
pub fn wait_text(now: i64, at: i64) -> String {
    let secs = (at - now).max(0) as u64;
    let mut s = String::new();
    if secs < 90 {
        push_number(&mut s, secs);
        s.push_str(" s");
    } else if secs < 90 * 60 {
        push_number(&mut s, secs.div_ceil(60));
        s.push_str(" min");
    } else {
        push_number(&mut s, secs.div_ceil(3600));
        s.push_str(" h");
    }
    s
}

/// The parts joined, without `format!`.
pub fn concat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_without_fmt() {
        let mut s = String::new();
        push_number(&mut s, 0);
        s.push(' ');
        push_number(&mut s, 1_234_567_890);
        s.push(' ');
        push_two(&mut s, 7);
        s.push(' ');
        push_two(&mut s, 123);
        s.push(' ');
        push_signed(&mut s, -42);
        s.push(' ');
        push_signed(&mut s, i64::MIN);
        assert_eq!(s, "0 1234567890 07 123 -42 -9223372036854775808");
        assert_eq!(wait_text(0, 20), "20 s");
        assert_eq!(wait_text(0, 150), "3 min");
        assert_eq!(wait_text(0, 4 * 3600), "4 h");
        assert_eq!(wait_text(50, 20), "0 s");
        assert_eq!(concat(&["a", "", "bc"]), "abc");
    }
}
