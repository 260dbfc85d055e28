//! Outcomes: hourly counts of what became of every item received, per project, data category,
//! outcome and reason.

use async_trait::async_trait;

use crate::{DeliveryOutcomes, OutcomeQuery, OutcomeRow, StoreResult};

/// Outcomes counted by ingest and the workers, and read back for the stats.
#[async_trait]
pub trait Outcomes: Send + Sync {
    /// Adds counts to the hourly totals (rows of one identity are summed), in one transaction:
    /// the accept side's periodic flush.
    async fn add_outcomes(&self, rows: Vec<OutcomeRow>) -> StoreResult<()>;
    /// Adds the outcomes of each delivery, in one transaction, once per `(project_id,
    /// source)`: a delivery added before changes nothing, so that an envelope processed twice
    /// counts once. Returns how many deliveries were new.
    async fn add_delivery_outcomes(&self, deliveries: Vec<DeliveryOutcomes>) -> StoreResult<usize>;
    /// The stored rows `query` selects, by hour, then project, category, outcome and reason.
    async fn outcomes(&self, query: &OutcomeQuery) -> StoreResult<Vec<OutcomeRow>>;
}
