//! Transactions, spans and their rollups.
