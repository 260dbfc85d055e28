//! Rendering a message template with its parameters, as Relay does for `logentry`.
//!
//! Relay (via the `dynfmt` crate) tries Python `%`-formatting when the template contains `%`,
//! else `{}`-formatting when it contains `{`, and gives up (leaving `formatted` empty) if the
//! template and the parameters do not fit together. Python's logging sends `%s`/`%d`/`%r`
//! templates with positional or named parameters; Java and .NET SDKs send `{}` and `{0}`.

use crate::json::Json;

/// Renders `template` with `params` (a list, or an object for named placeholders). `None` when
/// the template has no placeholders syntax or does not match the parameters.
pub(crate) fn format_message(template: &str, params: &Json<'_>) -> Option<String> {
    if template.contains('%') {
        format_percent(template, params)
    } else if template.contains('{') {
        format_curly(template, params)
    } else {
        None
    }
}

/// Python's `%` operator: `%s`, `%r`, `%d`, `%i`, `%f`, `%x`, `%%`…, with flags, width and
/// precision, positional (`params` a list) or named (`%(name)s`, `params` an object).
fn format_percent(template: &str, params: &Json<'_>) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    let mut next_index = 0;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        let arg = if chars.peek() == Some(&'(') {
            chars.next();
            let mut name = String::new();
            loop {
                match chars.next()? {
                    ')' => break,
                    ch => name.push(ch),
                }
            }
            Some(params.as_object()?.get(&name)?)
        } else {
            None
        };
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.left = true,
                '0' => spec.zero = true,
                '+' => spec.plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        spec.width = read_number(&mut chars);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(read_number(&mut chars).unwrap_or(0));
        }
        let conversion = chars.next()?;
        if conversion == '%' {
            out.push('%');
            continue;
        }
        let arg = match arg {
            Some(arg) => arg,
            None => {
                let arg = params.as_array()?.get(next_index)?;
                next_index += 1;
                arg
            }
        };
        let text = convert(conversion, arg, &spec)?;
        pad(&mut out, &text, &spec);
    }
    Some(out)
}

#[derive(Default)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

fn read_number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        // Absurd widths would allocate without bound; cap them.
        n = Some((n.unwrap_or(0) * 10 + d as usize).min(1024));
        chars.next();
    }
    n
}

fn convert<'a>(conversion: char, arg: &Json<'a>, spec: &Spec) -> Option<String> {
    let text = match conversion {
        's' | 'r' | 'a' => {
            let text = display(arg);
            match spec.precision {
                Some(p) => text.chars().take(p).collect(),
                None => text,
            }
        }
        'd' | 'i' | 'u' => {
            let n = integer(arg)?;
            signed(n.to_string(), n >= 0, spec)
        }
        'x' => format!("{:x}", integer(arg)?),
        'X' => format!("{:X}", integer(arg)?),
        'o' => format!("{:o}", integer(arg)?),
        'f' | 'F' => {
            let f = float(arg)?;
            signed(
                format!("{:.*}", spec.precision.unwrap_or(6), f),
                f >= 0.0,
                spec,
            )
        }
        'e' | 'E' => {
            let f = float(arg)?;
            let text = format!("{:.*e}", spec.precision.unwrap_or(6), f);
            if conversion == 'E' {
                text.to_uppercase()
            } else {
                text
            }
        }
        'g' | 'G' => {
            let f = float(arg)?;
            signed(format!("{f}"), f >= 0.0, spec)
        }
        'c' => match arg {
            Json::String(s) if s.chars().count() == 1 => s.to_string(),
            other => char::from_u32(u32::try_from(integer(other)?).ok()?)?.to_string(),
        },
        _ => return None,
    };
    Some(text)
}

fn signed(text: String, non_negative: bool, spec: &Spec) -> String {
    if spec.plus && non_negative {
        format!("+{text}")
    } else {
        text
    }
}

fn pad(out: &mut String, text: &str, spec: &Spec) {
    let len = text.chars().count();
    let fill = spec.width.unwrap_or(0).saturating_sub(len);
    if spec.left {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', fill));
    } else if spec.zero {
        let (sign, digits) = match text.strip_prefix(['-', '+']) {
            Some(rest) => (&text[..1], rest),
            None => ("", text),
        };
        out.push_str(sign);
        out.extend(std::iter::repeat_n('0', fill));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', fill));
        out.push_str(text);
    }
}

/// How a parameter reads in text: strings bare, everything else as JSON.
fn display(arg: &Json<'_>) -> String {
    match arg {
        Json::String(s) => s.to_string(),
        other => other.to_string(),
    }
}

fn integer(arg: &Json<'_>) -> Option<i64> {
    match arg {
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f.trunc() as i64)),
        Json::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

fn float(arg: &Json<'_>) -> Option<f64> {
    match arg {
        Json::Number(n) => n.as_f64(),
        Json::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// `{}` (next parameter), `{0}` (by index) and `{name}` (by key).
fn format_curly(template: &str, params: &Json<'_>) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut next_index = 0;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let key = &after[..close];
        let arg = if key.is_empty() {
            let arg = params.as_array()?.get(next_index)?;
            next_index += 1;
            arg
        } else if let Ok(index) = key.parse::<usize>() {
            params.as_array()?.get(index)?
        } else if key.chars().all(|c| c.is_alphanumeric() || c == '_') {
            params.as_object()?.get(key)?
        } else {
            return None;
        };
        out.push_str(&display(arg));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn python_positional() {
        assert_eq!(
            format_message("hello, %s!", &Json::from(json!(["world"]))).as_deref(),
            Some("hello, world!")
        );
        assert_eq!(
            format_message("user %d owes %.2f (%r)", &Json::from(json!([42, 9.5, "x"]))).as_deref(),
            Some("user 42 owes 9.50 (x)")
        );
        assert_eq!(
            format_message("100%% of %s", &Json::from(json!(["cases"]))).as_deref(),
            Some("100% of cases")
        );
        assert_eq!(
            format_message("[%5s|%-3d|%03d]", &Json::from(json!(["ab", 7, 5]))).as_deref(),
            Some("[   ab|7  |005]")
        );
    }

    #[test]
    fn python_named() {
        assert_eq!(
            format_message("hello, %(name)s!", &Json::from(json!({"name": "world"}))).as_deref(),
            Some("hello, world!")
        );
    }

    #[test]
    fn mismatches_give_up() {
        assert_eq!(
            format_message("%s and %s", &Json::from(json!(["one"]))),
            None
        );
        assert_eq!(
            format_message("%d", &Json::from(json!(["not a number"]))),
            None
        );
        assert_eq!(format_message("%(missing)s", &Json::from(json!({}))), None);
        assert_eq!(format_message("trailing %", &Json::from(json!([]))), None);
        assert_eq!(
            format_message("no placeholders", &Json::from(json!([1]))),
            None
        );
    }

    #[test]
    fn curly_styles() {
        assert_eq!(
            format_message("hello, {}!", &Json::from(json!(["world"]))).as_deref(),
            Some("hello, world!")
        );
        assert_eq!(
            format_message("hello, {0}!", &Json::from(json!(["world"]))).as_deref(),
            Some("hello, world!")
        );
        assert_eq!(
            format_message("hi {who}", &Json::from(json!({"who": "you"}))).as_deref(),
            Some("hi you")
        );
        assert_eq!(format_message("{} {}", &Json::from(json!([1]))), None);
    }
}
