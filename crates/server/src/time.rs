//! The clock every part of the server reads: handlers, jobs and health checks all take "now"
//! from here, in the unix seconds the store keeps.

/// Seconds since the epoch, now; 0 on a clock set before 1970 (nothing to gain from failing).
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
