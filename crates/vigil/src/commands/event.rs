//! `vigil event group`: how one event groups, without a server.

use std::io::Read;

use anyhow::Context;
use std::sync::Arc;
use vigil_processing::json::Json;

use vigil_processing::filter::Filters;
use vigil_processing::{process_event, NormalizeContext, Outcome};
use vigil_store::InboundFilters;

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
    // Every inbound filter off: the command shows how an event groups, whoever sent it.
    let ctx = NormalizeContext {
        received,
        filters: Arc::new(Filters::new(InboundFilters::none())),
        ..NormalizeContext::default()
    };
    let event = match process_event(raw, &ctx)? {
        Outcome::Kept(event) => event,
        Outcome::Filtered(f) => anyhow::bail!("the event was filtered by {}", f.filter),
    };
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
