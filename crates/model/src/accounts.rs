//! Who and what owns data: organizations, their projects and DSN keys, users and their API
//! tokens.

use serde::{Deserialize, Serialize};

use crate::UnixTime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub date_created: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    pub id: i64,
    pub organization_id: i64,
    pub slug: String,
    pub name: String,
    pub platform: Option<String>,
    pub date_created: UnixTime,
}

impl Project {
    /// `SHOP-1A`: an issue's short id, the slug upper-cased and the per-project number in
    /// Sentry's base 32 (Crockford's alphabet: no I, L, O or U, so a short id read aloud or
    /// copied by hand cannot be mistaken for another).
    pub fn short_id(&self, number: i64) -> String {
        const DIGITS: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mut n = u64::try_from(number).unwrap_or(0);
        let mut digits = Vec::new();
        loop {
            digits.push(char::from(DIGITS[(n % 32) as usize]));
            n /= 32;
            if n == 0 {
                break;
            }
        }
        let number: String = digits.iter().rev().collect();
        format!("{}-{number}", self.slug.to_ascii_uppercase())
    }
}

/// The project fields Sentry's `PUT /projects/{org}/{project}/` renames; `None` leaves one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectRename {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub platform: Option<String>,
}

/// Reads a short id (`SHOP-1A`, any case) back into the project slug (lowercase) and the
/// issue's number; `None` for anything else. The number is after the last `-`, since a slug
/// may hold dashes; Crockford's decoding reads `O` as 0 and `I`/`L` as 1, as a person may type
/// them.
pub fn parse_short_id(text: &str) -> Option<(String, i64)> {
    let (slug, number) = text.rsplit_once('-')?;
    if slug.is_empty() || number.is_empty() || number.len() > 12 {
        return None;
    }
    let mut value: i64 = 0;
    for c in number.chars() {
        let digit = match c.to_ascii_uppercase() {
            'O' => 0,
            'I' | 'L' => 1,
            c => b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
                .iter()
                .position(|&d| char::from(d) == c)?,
        };
        value = value * 32 + digit as i64;
    }
    // A slug is never all digits, and numbers start at 1.
    let slug_ok = slug.chars().any(|c| c.is_ascii_alphabetic())
        && slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (slug_ok && value > 0).then(|| (slug.to_ascii_lowercase(), value))
}

#[cfg(test)]
mod short_id_tests {
    use super::*;

    #[test]
    fn short_ids_read_back_into_slug_and_number() {
        let project = Project {
            id: 1,
            organization_id: 1,
            slug: "web-shop".into(),
            name: "Web shop".into(),
            platform: None,
            date_created: 0.0,
        };
        for number in [1, 31, 32, 1000, 123_456_789] {
            let short = project.short_id(number);
            assert_eq!(
                parse_short_id(&short),
                Some(("web-shop".into(), number)),
                "{short}"
            );
            assert_eq!(
                parse_short_id(&short.to_ascii_lowercase()),
                Some(("web-shop".into(), number))
            );
        }
        assert_eq!(parse_short_id("SHOP-1O"), Some(("shop".into(), 32)));
        for bad in [
            "SHOP",
            "-1A",
            "SHOP-",
            "SHOP-1U",
            "42",
            "SH OP-1",
            "SHOP-1234567890ABC",
            "12-1",
            "SHOP-0",
        ] {
            assert_eq!(parse_short_id(bad), None, "{bad}");
        }
    }
}

/// A DSN key ("client key") of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectKey {
    pub id: i64,
    pub project_id: i64,
    /// 32 lowercase hex chars: the user part of the DSN.
    pub public_key: String,
    /// 32 lowercase hex chars; deprecated in DSNs, kept for Sentry's API shape.
    pub secret_key: String,
    pub label: String,
    pub is_active: bool,
    pub date_created: UnixTime,
    /// At most this many events per window, or no limit.
    pub rate_limit: Option<KeyRateLimit>,
}

/// Sentry's per-key rate limit: `count` events per `window_secs` seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRateLimit {
    pub count: i64,
    pub window_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub is_admin: bool,
    pub date_created: UnixTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub scopes: Vec<String>,
    pub date_created: UnixTime,
}
