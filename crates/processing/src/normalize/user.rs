//! The user, and where the user's IP address comes from.
//!
//! Sentry counts "users affected" by the `user` tag, whose last resort is the IP address, so
//! the rules deciding the IP matter. They follow Relay's `normalize_ip_addresses` (one function
//! there too, because the order matters): `{{auto}}` means "the address this came from"; a real
//! `request.env.REMOTE_ADDR` fills an empty `user.ip_address`; browsers and Apple SDKs never
//! send an address, so theirs is inferred from the connection unless the SDK says
//! `infer_ip: never`, and an SDK that says `infer_ip: auto` asks for that on any platform.

use std::net::IpAddr;

use crate::json::{Json, Object};

use super::attributes::is_security_report;
use super::errors::EventErrors;
use super::limits;
use super::shape::take_object;
use super::value::{join, lenient_string, remove_nulls};

/// The placeholder SDKs send for "use the address of the connection".
const AUTO: &str = "{{auto}}";
/// Platforms that never know their own public address (Relay's legacy inference list).
const INFER_IP_PLATFORMS: &[&str] = &["javascript", "cocoa", "objc"];
/// Fields of the user interface; anything else moves into `user.data`.
const KNOWN_FIELDS: &[&str] = &[
    "id",
    "email",
    "ip_address",
    "username",
    "name",
    "geo",
    "segment",
    "data",
    "sentry_user",
];

/// Normalizes `user` and resolves its IP address from the request and the connection.
pub(crate) fn normalize_user(
    event: &mut Object<'_>,
    client_ip: Option<&str>,
    errors: &mut EventErrors,
) {
    let client_ip = client_ip
        .map(str::trim)
        .and_then(|ip| ip.parse::<IpAddr>().ok());

    let mut user = take_object(event, "user", "user", errors).unwrap_or_default();
    remove_nulls(&mut user);
    normalize_fields(&mut user, errors);
    resolve_ip(event, &mut user, client_ip, errors);

    if !user.is_empty() {
        event.insert("user", Json::Object(user));
    }
}

fn normalize_fields(user: &mut Object<'_>, errors: &mut EventErrors) {
    // Ids, usernames and names are often numbers in the SDK's model; Sentry reads them as text.
    for key in ["id", "username", "name"] {
        if let Some(raw) = user.get(key) {
            match lenient_string(raw) {
                Some(s) if !s.is_empty() => {
                    let mut s = Json::from(s);
                    limits::trim_string(&mut s, 128, 0);
                    user.insert(key, s);
                }
                Some(_) => {
                    user.shift_remove(key);
                }
                None => {
                    let v = user.shift_remove(key);
                    errors.invalid(&join("user", key), v.as_ref());
                }
            }
        }
    }
    for key in ["email", "segment", "sentry_user"] {
        match user.get(key) {
            Some(Json::String(s)) if s.is_empty() => {
                user.shift_remove(key);
            }
            Some(Json::String(_)) | None => {}
            Some(_) => {
                let v = user.shift_remove(key);
                errors.invalid(&join("user", key), v.as_ref());
            }
        }
    }
    limits::trim_field(user, "email", 75, 0);
    if user.get("geo").is_some_and(|g| !g.is_object()) {
        let v = user.shift_remove("geo");
        errors.invalid("user.geo", v.as_ref());
    }

    let mut data = match user.shift_remove("data") {
        Some(Json::Object(data)) => data,
        None => Object::new(),
        Some(other) => {
            errors.discard("user.data", other);
            Object::new()
        }
    };
    // One pass over the fields: a user object may carry thousands of unknown ones.
    let (known, unknown): (Vec<_>, Vec<_>) = std::mem::take(user)
        .into_iter()
        .partition(|(k, _)| KNOWN_FIELDS.contains(&&**k));
    *user = known.into_iter().collect();
    data.extend(unknown);
    if !data.is_empty() {
        let mut data = Json::Object(data);
        if limits::trim_databag(&mut data, limits::MEDIUM) {
            user.insert("data", data);
        }
    }
}

/// The SDK's `sdk.settings.infer_ip`: `auto`, `never`, or absent (legacy behaviour).
fn infer_ip_setting<'o>(event: &'o Object<'_>) -> Option<&'o str> {
    event.get("sdk")?.get("settings")?.get("infer_ip")?.as_str()
}

fn resolve_ip<'a>(
    event: &mut Object<'a>,
    user: &mut Object<'a>,
    client_ip: Option<IpAddr>,
    errors: &mut EventErrors,
) {
    let setting = infer_ip_setting(event).map(str::to_owned);
    let never = setting.as_deref() == Some("never");

    // `request.env.REMOTE_ADDR: {{auto}}` is the connection's address too.
    let env_addr = event
        .get_mut("request")
        .and_then(|r| r.get_mut("env"))
        .and_then(Json::as_object_mut)
        .and_then(|env| env.get_mut("REMOTE_ADDR"));
    if let Some(addr) = env_addr {
        if addr.as_str() == Some(AUTO) {
            match client_ip {
                Some(ip) if !never => *addr = Json::from(ip.to_string()),
                _ => *addr = Json::Null,
            }
        }
    }
    let remote_addr = event
        .get("request")
        .and_then(|r| r.get("env"))
        .and_then(|env| env.get("REMOTE_ADDR"))
        .and_then(Json::as_str)
        .and_then(|ip| ip.trim().parse::<IpAddr>().ok());
    if let Some(env) = event
        .get_mut("request")
        .and_then(|r| r.get_mut("env"))
        .and_then(Json::as_object_mut)
    {
        env.retain(|k, v| k != "REMOTE_ADDR" || !v.is_null());
    }

    match user.get("ip_address") {
        Some(Json::String(ip)) if ip == AUTO => match client_ip {
            Some(ip) if !never => {
                user.insert("ip_address", Json::from(ip.to_string()));
            }
            _ => {
                user.shift_remove("ip_address");
            }
        },
        Some(Json::String(ip)) => match ip.trim().parse::<IpAddr>() {
            Ok(parsed) => {
                user.insert("ip_address", Json::from(parsed.to_string()));
            }
            Err(_) => {
                let v = user.shift_remove("ip_address");
                errors.invalid("user.ip_address", v.as_ref());
            }
        },
        Some(_) => {
            let v = user.shift_remove("ip_address");
            errors.invalid("user.ip_address", v.as_ref());
        }
        None => {}
    }

    // A security or NEL report is sent by the browser itself: its address is the user's.
    let is_report =
        is_security_report(event) || event.get("contexts").and_then(|c| c.get("nel")).is_some();
    if let Some(ip) = client_ip.filter(|_| is_report) {
        user.insert("ip_address", Json::from(ip.to_string()));
    }

    if user.contains_key("ip_address") {
        return;
    }
    if let Some(ip) = remote_addr {
        user.insert("ip_address", Json::from(ip.to_string()));
        return;
    }
    let platform = event
        .get("platform")
        .and_then(Json::as_str)
        .unwrap_or("other");
    let infer = match setting.as_deref() {
        Some("auto") => true,
        Some("never") => false,
        _ => INFER_IP_PLATFORMS.contains(&platform),
    };
    if let Some(ip) = client_ip.filter(|_| infer) {
        user.insert("ip_address", Json::from(ip.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::normalize::errors::run_step;

    fn run(v: Value, client_ip: Option<&str>) -> (Value, usize) {
        let (out, notes) = run_step(v, |map, errors| normalize_user(map, client_ip, errors));
        (out, notes.len())
    }

    #[test]
    fn numeric_id_becomes_text_and_unknown_keys_move_to_data() {
        let (out, _) = run(
            json!({"user": {"id": 7, "plan": "gold", "data": {"a": 1}}}),
            None,
        );
        assert_eq!(
            out,
            json!({"user": {"id": "7", "data": {"a": 1, "plan": "gold"}}})
        );
    }

    #[test]
    fn auto_ip_becomes_the_client_address() {
        let (out, _) = run(
            json!({"user": {"ip_address": "{{auto}}", "username": "root"}}),
            Some("10.1.2.3"),
        );
        assert_eq!(
            out,
            json!({"user": {"ip_address": "10.1.2.3", "username": "root"}})
        );
        let (out, _) = run(json!({"user": {"ip_address": "{{auto}}"}}), None);
        assert_eq!(out, json!({}));
    }

    #[test]
    fn remote_addr_fills_the_user() {
        let (out, _) = run(
            json!({"request": {"env": {"REMOTE_ADDR": "127.0.0.1"}}}),
            Some("10.1.2.3"),
        );
        assert_eq!(out["user"], json!({"ip_address": "127.0.0.1"}));
        let (out, _) = run(
            json!({"request": {"env": {"REMOTE_ADDR": "{{auto}}"}}, "platform": "python"}),
            Some("10.1.2.3"),
        );
        assert_eq!(out["request"]["env"]["REMOTE_ADDR"], json!("10.1.2.3"));
        assert_eq!(out["user"], json!({"ip_address": "10.1.2.3"}));
    }

    #[test]
    fn browsers_get_the_client_address_unless_they_say_never() {
        let (out, _) = run(json!({"platform": "javascript"}), Some("10.1.2.3"));
        assert_eq!(out["user"], json!({"ip_address": "10.1.2.3"}));
        let (out, _) = run(json!({"platform": "python"}), Some("10.1.2.3"));
        assert!(out.get("user").is_none());
        let never = json!({"platform": "javascript", "sdk": {"settings": {"infer_ip": "never"}}});
        assert!(run(never, Some("10.1.2.3")).0.get("user").is_none());
        let auto = json!({"platform": "node", "sdk": {"settings": {"infer_ip": "auto"}}});
        assert_eq!(
            run(auto, Some("10.1.2.3")).0["user"],
            json!({"ip_address": "10.1.2.3"})
        );
    }

    #[test]
    fn security_reports_take_the_client_address() {
        let (out, _) = run(
            json!({"csp": {"blocked_uri": "x"}, "user": {"ip_address": "1.1.1.1"}}),
            Some("10.1.2.3"),
        );
        assert_eq!(out["user"], json!({"ip_address": "10.1.2.3"}));
    }

    #[test]
    fn invalid_ip_and_shapes_are_noted() {
        let (out, errors) = run(
            json!({"user": {"ip_address": "not an ip", "id": {"x": 1}, "data": 4}}),
            None,
        );
        assert_eq!(out, json!({}));
        assert_eq!(errors, 3);
        let (out, errors) = run(json!({"user": "jane"}), None);
        assert_eq!((out, errors), (json!({}), 1));
    }
}
