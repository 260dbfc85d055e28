//! `vigil event group`: how one event groups, without a server.

use std::io::Read;

use anyhow::Context;
use vigil_processing::json::Json;
use vigil_processing::{process_event, NormalizeContext};

pub fn group() -> anyhow::Result<()> {
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .context("reading the event from stdin")?;
    let raw = Json::parse(&input).context("the event is not valid JSON")?;
    let received = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let ctx = NormalizeContext {
        received,
        ..NormalizeContext::default()
    };
    let event = process_event(raw, &ctx)?;
    let out = serde_json::json!({
        "hashes": event.hashes,
        "variant": event.grouping_variant,
        "title": event.title,
        "culprit": event.culprit,
        "metadata": event.metadata,
    });
    println!("{out}");
    Ok(())
}
