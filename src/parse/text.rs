//! The plain-text tracing format the operator writes when `jsonLog` is off:
//! `2026-02-01T03:55:25.050620Z  INFO operator::session: Session Start session_id="..." port=80`.
//! String values are Debug-quoted (`"a \"b\""`), numbers and booleans bare.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::fields::RawFields;

static LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d))\s+(TRACE|DEBUG|INFO|WARN|ERROR)\s+(?:\S+\{.*?\}:)*\s*([A-Za-z_][A-Za-z0-9_:]*):\s(.*)$",
    )
    .expect("static regex")
});

static FIELD_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s)([A-Za-z_][A-Za-z0-9_.]*)=").expect("static regex"));

/// True when the line looks like the plain-text tracing format.
pub fn looks_like_text(line: &str) -> bool {
    LINE.is_match(line)
}

/// Splits a plain-text tracing line into [`RawFields`]. `None` when it isn't that format.
pub fn parse_text(line: &str) -> Option<RawFields> {
    let caps = LINE.captures(line)?;
    let mut raw = RawFields {
        timestamp: Some(Value::String(caps[1].to_string())),
        level: Some(caps[2].to_string()),
        module_target: Some(caps[3].to_string()),
        ..Default::default()
    };
    let rest = caps.get(4)?.as_str();
    let first = FIELD_START
        .find(rest)
        .map(|m| m.start())
        .unwrap_or(rest.len());
    raw.fields.push((
        "message".into(),
        Value::String(rest[..first].trim().to_string()),
    ));
    parse_pairs(&rest[first..], &mut raw.fields);
    Some(raw)
}

/// Reads `key=value` pairs; quoted values are unescaped, bare ones typed as number/bool/string.
fn parse_pairs(mut s: &str, out: &mut Vec<(String, Value)>) {
    loop {
        s = s.trim_start();
        let Some(eq) = s.find('=') else { return };
        let key = s[..eq].to_string();
        s = &s[eq + 1..];
        let (value, rest) = if let Some(quoted) = s.strip_prefix('"') {
            let (v, r) = read_quoted(quoted);
            (Value::String(v), r)
        } else {
            let end = s.find(char::is_whitespace).unwrap_or(s.len());
            (bare_value(&s[..end]), &s[end..])
        };
        out.push((key, value));
        s = rest;
    }
}

/// Reads a Debug-quoted string body (after the opening quote); returns it and the remainder.
fn read_quoted(s: &str) -> (String, &str) {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return (out, &s[i + 1..]),
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, other)) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    (out, "")
}

fn bare_value(s: &str) -> Value {
    match s {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => {
            if let Ok(i) = s.parse::<i64>() {
                Value::from(i)
            } else if let Ok(u) = s.parse::<u64>() {
                Value::from(u)
            } else if s.contains(['.', 'e', 'E'])
                && let Ok(f) = s.parse::<f64>()
            {
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(s.to_string()))
            } else {
                Value::String(s.to_string())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_message_and_typed_fields() {
        let raw = parse_text(r#"2026-02-01T03:55:25.050620Z  INFO operator::session: Session Start session_id="487F" client_name="Aris \"A\" Doe" port=80 scale_down=true session_duration=12.5"#).unwrap();
        assert_eq!(raw.level.as_deref(), Some("INFO"));
        assert_eq!(raw.module_target.as_deref(), Some("operator::session"));
        let get = |k: &str| {
            raw.fields
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("message"), Some(Value::from("Session Start")));
        assert_eq!(get("client_name"), Some(Value::from("Aris \"A\" Doe")));
        assert_eq!(get("port"), Some(Value::from(80)));
        assert_eq!(get("scale_down"), Some(Value::Bool(true)));
        assert_eq!(get("session_duration"), Some(Value::from(12.5)));
    }

    #[test]
    fn not_text_lines_are_refused() {
        assert!(parse_text("{\"a\":1}").is_none());
        assert!(parse_text("hello world").is_none());
    }
}
