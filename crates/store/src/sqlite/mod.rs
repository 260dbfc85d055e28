//! STUB — replaced by the SQLite implementation.
