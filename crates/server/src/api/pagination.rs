//! Sentry's cursor pagination: `?cursor=<value>:<offset>:<is_prev>` and a `Link` header with
//! `rel="previous"`/`rel="next"` and `results="true|false"` (sentry-cli follows `next` only
//! while `results="true"`).

use axum::http::{HeaderMap, HeaderValue};

use super::error::ApiError;

pub const DEFAULT_LIMIT: u64 = 100;

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: u64,
    pub limit: u64,
}

impl Page {
    /// From `cursor=` and `limit=` (1..=100; Sentry's maximum per page).
    /// A malformed cursor or limit is a 400, as in Sentry.
    pub fn from_params(cursor: Option<&str>, limit: Option<&str>) -> Result<Page, ApiError> {
        let limit = match limit {
            None | Some("") => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<u64>()
                .map_err(|_| ApiError::bad_field("limit", "Invalid limit"))?
                .clamp(1, 100),
        };
        let offset = match cursor {
            None | Some("") => 0,
            Some(c) => {
                let parts: Vec<&str> = c.split(':').collect();
                match parts.as_slice() {
                    [_value, offset, _is_prev] => offset
                        .parse::<u64>()
                        .map_err(|_| ApiError::bad_field("cursor", "Invalid cursor parameter."))?,
                    _ => return Err(ApiError::bad_field("cursor", "Invalid cursor parameter.")),
                }
            }
        };
        Ok(Page { offset, limit })
    }

    /// The `Link` header for this page, given whether a next page exists.
    pub fn link_header(
        &self,
        base_url: &str,
        query: &[(String, String)],
        has_next: bool,
    ) -> HeaderMap {
        let url_with = |cursor: &str| {
            let mut serializer = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in query.iter().filter(|(k, _)| k != "cursor") {
                serializer.append_pair(k, v);
            }
            serializer.append_pair("cursor", cursor);
            format!("{base_url}?{}", serializer.finish())
        };
        let prev_offset = self.offset.saturating_sub(self.limit);
        let prev = format!("0:{prev_offset}:1");
        let next = format!("0:{}:0", self.offset + self.limit);
        let value = format!(
            "<{}>; rel=\"previous\"; results=\"{}\"; cursor=\"{prev}\", <{}>; rel=\"next\"; results=\"{}\"; cursor=\"{next}\"",
            url_with(&prev),
            self.offset > 0,
            url_with(&next),
            has_next,
        );
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(axum::http::header::LINK, value);
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_offset_and_limit_are_read() {
        assert_eq!(
            Page::from_params(Some("0:200:0"), Some("50")).expect("valid"),
            Page {
                offset: 200,
                limit: 50
            }
        );
        assert_eq!(
            Page::from_params(None, Some("1000")).expect("valid"),
            Page {
                offset: 0,
                limit: 100
            }
        );
    }

    #[test]
    fn malformed_cursor_or_limit_is_refused() {
        assert!(Page::from_params(Some("bogus"), None).is_err());
        assert!(Page::from_params(Some("0:x:0"), None).is_err());
        assert!(Page::from_params(None, Some("ten")).is_err());
    }

    #[test]
    fn link_header_says_whether_more_results_exist() {
        let page = Page {
            offset: 0,
            limit: 2,
        };
        let headers = page.link_header(
            "http://h/api/0/x/",
            &[("query".into(), "is:unresolved".into())],
            true,
        );
        let link = headers
            .get("link")
            .expect("link header")
            .to_str()
            .expect("ascii");
        assert!(link.contains("rel=\"next\"; results=\"true\"; cursor=\"0:2:0\""));
        assert!(link.contains("rel=\"previous\"; results=\"false\""));
        assert!(link.contains("query=is%3Aunresolved"));
    }
}
