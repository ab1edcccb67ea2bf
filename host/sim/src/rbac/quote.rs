//! Go's `%q` (`strconv.Quote`), which Kubernetes uses for every name in its 403 messages.

use std::fmt::Write as _;

/// Quotes `s` the way Go's `strconv.Quote` does: double quotes, `\"` and `\\` escaped, Go's
/// short escapes for `\a \b \f \n \r \t \v`, `\xHH` for other ASCII controls, and `\uHHHH` /
/// `\UHHHHHHHH` for characters Go does not consider printable. Go's `unicode.IsPrint` is
/// approximated: Rust's control and whitespace classes (bar the ASCII space) plus the common
/// format characters count as non-printable; unassigned code points are printed as they are.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0B}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7F}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let format_char = matches!(c as u32, 0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F
        | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB | 0xE0001 | 0xE0020..=0xE007F);
    let private_or_surrogate = matches!(c as u32, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF);
    !c.is_control() && !c.is_whitespace() && !format_char && !private_or_surrogate
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("pods"), r#""pods""#);
        assert_eq!(go_quote(""), r#""""#);
        assert_eq!(go_quote(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(go_quote("a\nb\tc\u{1}"), r#""a\nb\tc\x01""#);
        assert_eq!(go_quote("système"), r#""système""#);
        assert_eq!(go_quote("nb\u{a0}sp"), r#""nb\u00a0sp""#);
        assert_eq!(go_quote("zw\u{200b}"), r#""zw\u200b""#);
    }
}
