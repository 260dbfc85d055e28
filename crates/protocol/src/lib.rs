//! STUB — replaced by the protocol implementation.
