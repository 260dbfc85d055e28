//! What symbolicating a browser error costs: one event of 20 frames against a ~2 MB source map
//! (8,000 functions in 200 files, with `sourcesContent`), cold (the map's cache is built: JSON
//! parse, mapping decode, scope extraction from the minified source) and warm (the built map is
//! in the shared cache, as for every later event of the same deploy). Each iteration runs the
//! whole `process_event`, so the difference to `pipeline::parse_and_process` is what
//! symbolication adds; `symbolicate_only` is the step alone on a normalized event.
//!
//! Run with `cargo bench -p vigil-processing --bench symbolicate`; `scripts/bench-check.sh`
//! counts the warm figures' instructions (`benches/budget.txt`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};

use divan::{black_box, Bencher};
use serde_json::json;
use sourcemap::SourceMapBuilder;
use vigil_processing::json::Json;
use vigil_processing::symbolicate::{
    symbolicate_event, ArtifactLookup, FileType, LookupError, SourceFile, SourceMapCaches,
    Symbolication,
};
use vigil_processing::{normalize_event, process_event, NormalizeContext};

fn main() {
    let app = app();
    let caches = Arc::new(SourceMapCaches::default());
    assert_symbolicated(&context(caches.clone()));
    eprintln!(
        "symbolicate bench: minified {} KB, map {} KB, {} frames; held in the cache after one \
         event: {} KB",
        app.minified.bytes.len() / 1024,
        app.map.bytes.len() / 1024,
        FRAMES,
        caches.stats().bytes / 1024,
    );
    divan::main();
}

const FILES: usize = 200;
const FUNCTIONS_PER_FILE: usize = 40;
const FRAMES: usize = 20;
const URL: &str = "https://shop.example.com/static/app.min.js";
const DEBUG_ID: &str = "5b1c2a4e-9f1d-4c2b-8a7e-3d6f0e1b2c3d";

/// The generated app: its bundle, its map and an event from it.
struct App {
    minified: SourceFile,
    map: SourceFile,
    event: Vec<u8>,
}

/// A short minified name for function `n` (`a`, `b`, … `aa`, …), as a minifier hands them out
/// (never a keyword: the minified source must parse for its scopes to be found).
fn short_name(mut n: usize) -> String {
    let mut name = String::new();
    loop {
        name.insert(0, (b'a' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            break;
        }
        n -= 1;
    }
    if ["do", "if", "in", "for", "let", "new", "try", "var"].contains(&name.as_str()) {
        name.push('$');
    }
    name
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| {
        let mut builder = SourceMapBuilder::new(Some("app.min.js"));
        let mut minified = String::from("(()=>{");
        let mut frames = Vec::new();
        for file in 0..FILES {
            let path = format!("../src/module{file}.js");
            let mut source = format!("// Module {file}: handlers of one part of the shop.\n\n");
            for function in 0..FUNCTIONS_PER_FILE {
                let line = 2 + 8 * function as u32;
                let name = format!("handleModule{file}Step{function}");
                writeln!(
                    source,
                    "export function {name}(input) {{\n  const value = input.items[{function}] + {file};\n  if (value > 10) {{\n    return computeTotal(value, input.currency);\n  }}\n  return value * 2;\n}}\n"
                )
                .unwrap_or_default();
                let short = short_name(file * FUNCTIONS_PER_FILE + function);
                let col = |m: &String| m.len() as u32;
                let mut token = |m: &String, l: u32, c: u32, n: Option<&str>| {
                    builder.add(0, col(m), l, c, Some(&path), n, false);
                };
                token(&minified, line, 0, None);
                minified.push_str("function ");
                token(&minified, line, 16, Some(&name));
                minified.push_str(&short);
                minified.push('(');
                token(&minified, line, 17 + name.len() as u32, Some("input"));
                minified.push_str("t){let ");
                token(&minified, line + 1, 8, Some("value"));
                minified.push_str("e=");
                token(&minified, line + 1, 16, Some("input"));
                minified.push_str(&format!("t.items[{function}]+{file};if(e>10)return "));
                let throw_col = minified.len();
                token(&minified, line + 3, 11, Some("computeTotal"));
                minified.push_str("$c(e,t.currency);");
                token(&minified, line + 5, 2, None);
                minified.push_str("return e*2}");
                if frames.len() < FRAMES && function % 7 == 3 && file % 9 == 0 {
                    frames.push(json!({
                        "filename": URL, "function": short, "in_app": true,
                        "lineno": 1, "colno": throw_col + 1,
                    }));
                }
            }
            let id = builder.add_source(&path);
            builder.set_source_contents(id, Some(&source));
        }
        minified.push_str("function $c(e,t){return e+t}})();\n//# sourceMappingURL=app.min.js.map\n");
        let mut map = Vec::new();
        builder
            .into_sourcemap()
            .to_writer(&mut map)
            .expect("the map serializes");
        assert_eq!(frames.len(), FRAMES);
        let event = json!({
            "platform": "javascript",
            "release": "shop@2.0.0",
            "exception": {"values": [{
                "type": "TypeError",
                "value": "Cannot read properties of undefined (reading 'items')",
                "stacktrace": {"frames": frames},
            }]},
            "debug_meta": {"images": [{"type": "sourcemap", "code_file": URL, "debug_id": DEBUG_ID}]},
        });
        let file = |url: &str, bytes: Vec<u8>| SourceFile {
            id: format!("{url}#1"),
            url: url.to_owned(),
            bytes: Arc::from(bytes),
            headers: BTreeMap::new(),
        };
        App {
            minified: file("~/static/app.min.js", minified.into_bytes()),
            map: file("~/static/app.min.js.map", map),
            event: serde_json::to_vec(&event).expect("serializable"),
        }
    })
}

/// The app's two files, by debug ID.
struct Uploads;

impl ArtifactLookup for Uploads {
    fn by_debug_id(&self, _: &str, ty: FileType) -> Result<Option<SourceFile>, LookupError> {
        Ok(match ty {
            FileType::MinifiedSource => Some(app().minified.clone()),
            FileType::SourceMap => Some(app().map.clone()),
            _ => None,
        })
    }

    fn by_url(&self, _: &str, _: Option<&str>, _: &str) -> Result<Option<SourceFile>, LookupError> {
        Ok(None)
    }
}

fn context(caches: Arc<SourceMapCaches>) -> NormalizeContext {
    NormalizeContext {
        received: 1_795_574_460.0,
        symbolication: Some(Symbolication::new(Arc::new(Uploads), caches, true)),
        ..NormalizeContext::default()
    }
}

/// Checks the event really maps (so the figures are those of a successful symbolication).
fn assert_symbolicated(ctx: &NormalizeContext) {
    let processed = process_event(Json::parse(&app().event).expect("JSON"), ctx)
        .expect("processed")
        .kept()
        .expect("kept");
    let data: serde_json::Value = serde_json::from_str(processed.data.as_str()).expect("JSON");
    let top = &data["exception"]["values"][0]["stacktrace"]["frames"][FRAMES - 1];
    assert_eq!(top["data"]["symbolicated"], true, "{top}");
    assert!(
        top["function"]
            .as_str()
            .is_some_and(|f| f.starts_with("handleModule")),
        "{top}"
    );
    assert!(top["context_line"]
        .as_str()
        .is_some_and(|l| l.contains("computeTotal")));
}

/// A new deploy's first event: the map's cache is built.
#[divan::bench(sample_count = 20, sample_size = 1)]
fn cold(bencher: Bencher) {
    assert_symbolicated(&context(Arc::default()));
    bencher
        .with_inputs(|| {
            (
                context(Arc::new(SourceMapCaches::default())),
                Json::parse(&app().event).expect("JSON"),
            )
        })
        .bench_values(|(ctx, raw)| process_event(raw, &ctx).expect("processed"));
}

/// Every later event: the built map is reused.
#[divan::bench]
fn warm(bencher: Bencher) {
    let ctx = context(Arc::default());
    assert_symbolicated(&ctx);
    bencher
        .with_inputs(|| Json::parse(&app().event).expect("JSON"))
        .bench_values(|raw| process_event(raw, &ctx).expect("processed"));
}

/// The same event without symbolication, for the difference.
#[divan::bench]
fn unsymbolicated(bencher: Bencher) {
    let ctx = NormalizeContext {
        received: 1_795_574_460.0,
        ..NormalizeContext::default()
    };
    bencher
        .with_inputs(|| Json::parse(&app().event).expect("JSON"))
        .bench_values(|raw| process_event(raw, &ctx).expect("processed"));
}

/// The symbolication step alone, warm, on a normalized event.
#[divan::bench]
fn symbolicate_only(bencher: Bencher) {
    let ctx = context(Arc::default());
    assert_symbolicated(&ctx);
    let symbolication = ctx.symbolication.clone().expect("set");
    let normalized = normalize_event(Json::parse(&app().event).expect("JSON"), &ctx)
        .expect("normalizes")
        .into_owned();
    bencher
        .with_inputs(|| normalized.clone())
        .bench_values(|mut event| {
            symbolicate_event(&mut event, &symbolication);
            black_box(event)
        });
}
