//! URLs and paths of JavaScript files: where a minified file's map and a map's sources live,
//! the names a release file may be uploaded under, and the module name Sentry derives from a
//! path. Each follows what Sentry's symbolicator does, since users' uploads are made for it.

use std::borrow::Cow;
use std::sync::LazyLock;

use base64::Engine as _;
use regex::Regex;

/// Joins `right` (a map's `sources` entry, a `sourceMappingURL`) onto `base` (the URL of the
/// file naming it): absolute URLs stay as they are, `~/` stands for the base's origin, `..`
/// never climbs above an HTTP origin.
pub fn join_paths(base: &str, right: &str) -> String {
    if right.contains("://") || right.starts_with("webpack:") {
        return right.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("file", base));
    let right = right.strip_prefix('~').unwrap_or(right);

    if right.starts_with('/') {
        if scheme == "file" {
            return right.to_owned();
        }
        // `//host/path`: another host, same scheme.
        if let Some(host_and_path) = right.strip_prefix("//") {
            return format!("{scheme}://{host_and_path}");
        }
        let host = rest.split('/').next().unwrap_or(rest);
        return format!("{scheme}://{host}{right}");
    }

    let mut out = String::with_capacity(base.len() + right.len());
    let mut left = rest.split('/').peekable();
    if scheme != "file" {
        out.push_str(scheme);
        out.push_str("://");
        out.push_str(left.next().unwrap_or_default());
    } else if left.peek() == Some(&"") {
        left.next();
    }
    // The base's own file name is not a directory.
    let mut segments: Vec<&str> = left.collect();
    segments.pop();

    let is_http = scheme == "http" || scheme == "https";
    let mut first = true;
    for segment in right.split('/') {
        if segment == ".." && (segments.pop().is_some() || is_http) {
            continue;
        }
        if segment == "." && (is_http || first) {
            continue;
        }
        first = false;
        segments.push(segment);
    }
    for segment in segments.into_iter().filter(|s| !s.is_empty()) {
        out.push('/');
        out.push_str(segment);
    }
    out
}

/// The path after the origin (or after a leading `~`), with its leading `/`.
pub fn strip_hostname(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix('~') {
        return rest;
    }
    match path.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or(rest, |at| &rest[at..]),
        None => path,
    }
}

/// The names a release file serving `url` may have been uploaded under, best first: the URL
/// without its fragment, then without its query, then the same as `~/path` (any origin) —
/// Sentry's `ReleaseFile.normalize`.
pub fn release_file_candidates(url: &str) -> Vec<String> {
    let url = url.split('#').next().unwrap_or(url);
    let relative = strip_hostname(url);
    let mut candidates = Vec::with_capacity(4);
    candidates.push(url.to_owned());
    if let Some((without_query, _)) = url.split_once('?') {
        candidates.push(without_query.to_owned());
    }
    candidates.push(format!("~{relative}"));
    if let Some((without_query, _)) = relative.split_once('?') {
        candidates.push(format!("~{without_query}"));
    }
    candidates.dedup();
    candidates
}

/// Where a minified file says its map is: the last `//# sourceMappingURL=` (or the legacy
/// `//@`) comment of its source, as browsers read it.
pub fn discover_sourcemap_reference(source: &str) -> Option<&str> {
    find_trailing_comment(source, "sourceMappingURL=")
}

/// The debug ID `sentry-cli sourcemaps inject` writes into a file (`//# debugId=…`).
pub fn discover_debug_id(source: &str) -> Option<String> {
    find_trailing_comment(source, "debugId=").and_then(super::bundle::normalize_debug_id)
}

/// The value of the last `//# name=value` comment line (or `//@ name=value`).
///
/// Reads lines from the end: the comment is the last thing bundlers write, and a minified
/// file is a few very long lines, so this touches little of it.
fn find_trailing_comment<'s>(source: &'s str, name: &str) -> Option<&'s str> {
    source.lines().rev().find_map(|line| {
        let line = line.trim();
        let rest = line
            .strip_prefix("//#")
            .or_else(|| line.strip_prefix("//@"))?;
        let value = rest.trim_start().strip_prefix(name)?.trim();
        (!value.is_empty() && !value.contains(char::is_whitespace)).then_some(value)
    })
}

/// Why an inline map cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDataUrl;

/// The content of a `data:` URL (`data:application/json;base64,…` or percent-encoded).
pub fn decode_data_url(url: &str) -> Result<Vec<u8>, InvalidDataUrl> {
    let rest = url.strip_prefix("data:").ok_or(InvalidDataUrl)?;
    let (meta, data) = rest.split_once(',').ok_or(InvalidDataUrl)?;
    if meta
        .split(';')
        .any(|part| part.eq_ignore_ascii_case("base64"))
    {
        let data: Vec<u8> = percent_decode(data)
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(&data)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&data))
            .map_err(|_| InvalidDataUrl)
    } else {
        Ok(percent_decode(data))
    }
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

static WEBPACK_NAMESPACE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^webpack://[a-zA-Z0-9_\-@\.]+/\./").expect("valid regex"));

/// A webpack source name as the project's own path: `webpack:///./src/a.js` → `./src/a.js`,
/// `webpack://app/./src/a.js` → `./src/a.js`, `webpack:///~/lib/a.js` → `~/lib/a.js`.
pub fn fixup_webpack_filename(filename: &str) -> String {
    if let Some((_, rest)) = filename.split_once("/~/") {
        format!("~/{rest}")
    } else if WEBPACK_NAMESPACE.is_match(filename) {
        WEBPACK_NAMESPACE.replace(filename, "./").into_owned()
    } else if let Some(rest) = filename.strip_prefix("webpack:///") {
        rest.to_owned()
    } else {
        filename.to_owned()
    }
}

static NODE_MODULES: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bnode_modules/").expect("valid regex"));

/// Whether an original source file is the project's own code: webpack's `./` paths are,
/// anything under `node_modules/` is not; `None` when the path does not tell.
pub fn is_in_app(abs_path: &str, filename: &str) -> Option<bool> {
    if abs_path.starts_with("webpack:") {
        Some(filename.starts_with("./") && !filename.contains("/node_modules/"))
    } else if abs_path.starts_with("app:") {
        Some(!NODE_MODULES.is_match(filename))
    } else if abs_path.contains("/node_modules/") {
        Some(false)
    } else {
        None
    }
}

static CLEAN_MODULE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)
        ^(?:/|(?:
            (?:java)?scripts?|js|build|static|node_modules|bower_components|[_\.~].*?|
            v?(?:\d+\.)*\d+|
            [a-f0-9]{7,8}|
            [a-f0-9]{32}|
            [a-f0-9]{40}
        )/)+
        |(?:[-\.][a-f0-9]{7,}$)",
    )
    .expect("valid regex")
});

/// The module name Sentry makes up for a JavaScript file from its URL: the path without
/// origin, query, extension and `.min`, without build-specific folders (`static/`, `js/`,
/// version numbers, hashes): `https://host/static/js/v1.0/shop/cart.min.js` → `shop/cart`.
pub fn generate_module(abs_path: &str) -> String {
    let path = strip_hostname(abs_path);
    let mut path = path.split(['#', '?']).next().unwrap_or(path);
    if let Some((at, ".")) = path.rmatch_indices(['.', '/']).next() {
        path = &path[..at];
    }
    let path = path.strip_suffix(".min").unwrap_or(path);

    // Everything after a 32- or 40-character hash segment, when there is one.
    let mut segments = path.split('/');
    while let Some(segment) = segments.next() {
        if segment.len() == 32
            || (segment.len() == 40 && segment.chars().all(|c| c.is_ascii_hexdigit()))
        {
            return segments.collect::<Vec<_>>().join("/");
        }
    }
    match CLEAN_MODULE.replace_all(path, "") {
        Cow::Borrowed(same) => same.to_owned(),
        Cow::Owned(cleaned) => cleaned,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_sources_onto_the_map_url() {
        let map = "https://shop.example.com/static/app.min.js.map";
        assert_eq!(
            join_paths(map, "../src/checkout.js"),
            "https://shop.example.com/src/checkout.js"
        );
        assert_eq!(
            join_paths(map, "../../../src/a.js"),
            "https://shop.example.com/src/a.js"
        );
        assert_eq!(
            join_paths(map, "./a.js"),
            "https://shop.example.com/static/a.js"
        );
        assert_eq!(
            join_paths(map, "/abs/a.js"),
            "https://shop.example.com/abs/a.js"
        );
        assert_eq!(
            join_paths(map, "~/x/a.js"),
            "https://shop.example.com/x/a.js"
        );
        assert_eq!(
            join_paths(map, "//cdn.example.com/a.js"),
            "https://cdn.example.com/a.js"
        );
        assert_eq!(
            join_paths(map, "webpack:///./src/a.js"),
            "webpack:///./src/a.js"
        );
        assert_eq!(
            join_paths("app:///dist/main.js", "../src/a.ts"),
            "app:///src/a.ts"
        );
        assert_eq!(
            join_paths("/srv/app/dist/main.js", "../src/a.ts"),
            "/srv/app/src/a.ts"
        );
    }

    #[test]
    fn release_file_candidates_as_sentry_names_them() {
        assert_eq!(
            release_file_candidates("https://example.com/assets/bundle.min.js?v=1#frag"),
            vec![
                "https://example.com/assets/bundle.min.js?v=1",
                "https://example.com/assets/bundle.min.js",
                "~/assets/bundle.min.js?v=1",
                "~/assets/bundle.min.js",
            ]
        );
        assert_eq!(
            release_file_candidates("app:///_next/server/pages/_error.js"),
            vec![
                "app:///_next/server/pages/_error.js",
                "~/_next/server/pages/_error.js"
            ]
        );
    }

    #[test]
    fn finds_the_trailing_comments() {
        let source = "var a=1;\n//# sourceMappingURL=app.min.js.map\n//# debugId=2D3C0196-DF7D-4726-8044-EE25012DB347\n";
        assert_eq!(discover_sourcemap_reference(source), Some("app.min.js.map"));
        assert_eq!(
            discover_debug_id(source).as_deref(),
            Some("2d3c0196-df7d-4726-8044-ee25012db347")
        );
        assert_eq!(
            discover_sourcemap_reference("x\n//@ sourceMappingURL=old.map"),
            Some("old.map")
        );
        assert_eq!(discover_sourcemap_reference("var sourceMappingURL=1"), None);
    }

    #[test]
    fn decodes_data_urls() {
        assert_eq!(
            decode_data_url("data:application/json;charset=utf-8;base64,eyJ2ZXJzaW9uIjozfQ==")
                .as_deref(),
            Ok(&b"{\"version\":3}"[..])
        );
        assert_eq!(
            decode_data_url("data:application/json,%7B%22version%22%3A3%7D").as_deref(),
            Ok(&b"{\"version\":3}"[..])
        );
        assert_eq!(
            decode_data_url("data:application/json;base64,@@@"),
            Err(InvalidDataUrl)
        );
        assert_eq!(decode_data_url("data:nothing"), Err(InvalidDataUrl));
    }

    #[test]
    fn module_names() {
        assert_eq!(
            generate_module("http://google.com/js/v1.0/foo/bar/baz.js"),
            "foo/bar/baz"
        );
        assert_eq!(
            generate_module("https://shop.example.com/src/checkout.js"),
            "src/checkout"
        );
        assert_eq!(generate_module("~/static/app.min.js"), "app");
        assert_eq!(
            generate_module("http://example.com/7d6d00eae0ceccdc7ee689659585d95f/foo/bar.js"),
            "foo/bar"
        );
        assert_eq!(
            generate_module("http://example.com/foo/bar-a1b2c3d4e5.js"),
            "foo/bar"
        );
        assert_eq!(generate_module("app:///src/a.ts?x=1"), "src/a");
    }

    #[test]
    fn webpack_and_in_app() {
        assert_eq!(
            fixup_webpack_filename("webpack:///./src/a.js"),
            "./src/a.js"
        );
        assert_eq!(
            fixup_webpack_filename("webpack://shop/./src/a.js"),
            "./src/a.js"
        );
        assert_eq!(
            fixup_webpack_filename("webpack:///~/lodash/a.js"),
            "~/lodash/a.js"
        );
        assert_eq!(is_in_app("webpack:///./src/a.js", "./src/a.js"), Some(true));
        assert_eq!(
            is_in_app("webpack:///./node_modules/x/a.js", "./node_modules/x/a.js"),
            Some(false)
        );
        assert_eq!(
            is_in_app(
                "https://h/node_modules/some-lib/index.js",
                "../node_modules/some-lib/index.js"
            ),
            Some(false)
        );
        assert_eq!(is_in_app("https://h/src/a.js", "../src/a.js"), None);
    }
}
