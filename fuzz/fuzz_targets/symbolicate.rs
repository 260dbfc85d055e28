//! Symbolication of a fixed JavaScript event against whatever was uploaded: arbitrary bytes as
//! an artifact bundle (first byte even), or as a minified file and its map (first byte odd,
//! the two split at the first NUL). Uploads come from users; no bundle, map or source may
//! panic the worker, and the event is always kept with a hash.

#![no_main]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use libfuzzer_sys::fuzz_target;
use vigil_processing::json::Json;
use vigil_processing::symbolicate::bundle::ArtifactBundle;
use vigil_processing::symbolicate::{
    ArtifactLookup, FileType, LookupError, SourceFile, SourceMapCaches, Symbolication,
};
use vigil_processing::{process_event, NormalizeContext, Outcome};

const DEBUG_ID: &str = "2d3c0196-df7d-4726-8044-ee25012db347";

/// Files served from a bundle, as the store would serve them.
struct BundleLookup(Mutex<ArtifactBundle>);

impl BundleLookup {
    fn serve(
        &self,
        pick: impl Fn(&ArtifactBundle) -> Option<(String, String, BTreeMap<String, String>)>,
    ) -> Option<SourceFile> {
        let mut bundle = self.0.lock().ok()?;
        let (path, url, headers) = pick(&bundle)?;
        let bytes = bundle.read(&path).ok()?;
        Some(SourceFile {
            id: path,
            url,
            bytes: Arc::from(bytes),
            headers,
        })
    }
}

impl ArtifactLookup for BundleLookup {
    fn by_debug_id(&self, debug_id: &str, ty: FileType) -> Result<Option<SourceFile>, LookupError> {
        Ok(self.serve(|b| {
            b.file_by_debug_id(debug_id, ty)
                .map(|f| (f.path.clone(), f.url.clone(), f.headers.clone()))
        }))
    }

    fn by_url(
        &self,
        _: &str,
        _: Option<&str>,
        url: &str,
    ) -> Result<Option<SourceFile>, LookupError> {
        Ok(self.serve(|b| {
            b.file_by_url(url)
                .map(|f| (f.path.clone(), f.url.clone(), f.headers.clone()))
        }))
    }
}

/// A minified file and its map, served by debug ID and under their URLs.
struct PairLookup {
    minified: SourceFile,
    map: SourceFile,
}

impl ArtifactLookup for PairLookup {
    fn by_debug_id(&self, _: &str, ty: FileType) -> Result<Option<SourceFile>, LookupError> {
        Ok(match ty {
            FileType::MinifiedSource => Some(self.minified.clone()),
            FileType::SourceMap => Some(self.map.clone()),
            _ => None,
        })
    }

    fn by_url(
        &self,
        _: &str,
        _: Option<&str>,
        url: &str,
    ) -> Result<Option<SourceFile>, LookupError> {
        Ok([&self.minified, &self.map]
            .into_iter()
            .find(|f| f.url == url)
            .cloned())
    }
}

fn file(url: &str, bytes: &[u8]) -> SourceFile {
    SourceFile {
        id: format!("{url}:{}", bytes.len()),
        url: url.to_owned(),
        bytes: Arc::from(bytes),
        headers: BTreeMap::new(),
    }
}

/// A browser error with frames at a few positions, one of them taken from the input.
fn event(line: u64, column: u64, with_debug_id: bool) -> Vec<u8> {
    let frame = |line: u64, column: u64, function: &str| {
        serde_json::json!({
            "filename": "https://shop.example.com/static/app.min.js",
            "function": function, "in_app": true, "lineno": line, "colno": column,
        })
    };
    let mut event = serde_json::json!({
        "platform": "javascript",
        "release": "shop@1",
        "exception": {"values": [{"type": "TypeError", "value": "x is undefined", "stacktrace": {"frames": [
            frame(1, 1, "a"), frame(line, column, "b"), frame(1, 164, "l"),
        ]}}]},
    });
    if with_debug_id {
        event["debug_meta"] = serde_json::json!({"images": [{
            "type": "sourcemap",
            "code_file": "https://shop.example.com/static/app.min.js",
            "debug_id": DEBUG_ID,
        }]});
    }
    serde_json::to_vec(&event).unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    // The JavaScript parser under the source-map cache (swc) has debug assertions that some
    // minified sources trip; `BuiltMap::build` catches that panic and calls the map unusable.
    // libFuzzer's hook would abort on it even though it is caught, so a hook that only prints
    // the panic's line takes its place: a panic that escapes processing still aborts
    // (libfuzzer-sys aborts on any unwind out of this closure).
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| std::panic::set_hook(Box::new(|info| eprintln!("{info}"))));

    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let lookup: Arc<dyn ArtifactLookup> = if mode % 2 == 0 {
        match ArtifactBundle::parse(rest.to_vec()) {
            Ok(bundle) => Arc::new(BundleLookup(Mutex::new(bundle))),
            Err(_) => return,
        }
    } else {
        let (minified, map) = match rest.iter().position(|b| *b == 0) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &[][..]),
        };
        Arc::new(PairLookup {
            minified: file("~/static/app.min.js", minified),
            map: file("~/static/app.min.js.map", map),
        })
    };
    let caches = Arc::new(SourceMapCaches::new(1 << 20));
    let ctx = NormalizeContext {
        received: 1_795_576_123.0,
        symbolication: Some(Symbolication::new(lookup, caches, true)),
        ..NormalizeContext::default()
    };
    let line = u64::from(mode >> 4) + 1;
    let column = rest.len() as u64 % 4096;
    for with_debug_id in [true, false] {
        let bytes = event(line, column, with_debug_id);
        let Ok(raw) = Json::parse(&bytes) else {
            return;
        };
        match process_event(raw, &ctx) {
            Ok(Outcome::Kept(processed)) => {
                assert!(!processed.hashes.is_empty(), "an event always gets a hash");
            }
            other => panic!("a browser error is always kept: {other:?}"),
        }
    }
});
