//! Notes are Markdown, rendered here on the server: CommonMark by `pulldown-cmark`, with raw
//! HTML shown as text and links only to http(s), mailto or this site, so a note cannot carry
//! script into the page of whoever reads it.

use pulldown_cmark::{html, CowStr, Event, Parser, Tag};

/// `text` as safe HTML.
pub fn render(text: &str) -> String {
    let events = Parser::new(text).map(|event| match event {
        // Raw HTML becomes text: escaped like any other.
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

/// The URL when its scheme is harmless; `#` otherwise (`javascript:`, `data:`, …).
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let scheme_free = !lower
        .split(['/', '?', '#'])
        .next()
        .is_some_and(|head| head.contains(':'));
    if scheme_free
        || lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("mailto:")
    {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn markdown_renders_and_html_does_not() {
        let html = render("**bold** and `code`\n\n<script>alert(1)</script>");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("<code>code</code>"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn only_harmless_links_keep_their_target() {
        assert!(render("[x](javascript:alert(1))").contains("href=\"#\""));
        assert!(render("[x](JaVaScRiPt:alert(1))").contains("href=\"#\""));
        assert!(render("[x](https://example.com/a)").contains("href=\"https://example.com/a\""));
        assert!(render("[x](/issues/1/)").contains("href=\"/issues/1/\""));
    }
}
