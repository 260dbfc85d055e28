//! Generated messages shared by the parameterization snapshots and its benchmark, so the
//! benchmark times the very input whose output the snapshots pin.

use std::fmt::Write as _;

/// A log-like message of about `len` bytes whose lines carry ids, addresses, times and sizes.
pub fn log_message(len: usize) -> String {
    let mut out = String::with_capacity(len + 200);
    let mut i: u64 = 0;
    while out.len() < len {
        i += 1;
        let n = i * 7919 % 100_000;
        writeln!(
            out,
            "2024-01-02T03:{:02}:{:02}.{:03}Z ERROR [worker-{}] request {:08x}-1eb3-4e9f-9174-f281b9dc{:04} \
             from 10.0.{}.{} user=bob{}@example.com took {}ms status={} path=/api/orders/{}?expand=items \
             retry='attempt {}' ok=false",
            i % 60,
            n % 60,
            n % 1000,
            i % 8,
            n * 4099,
            n % 10_000,
            i % 256,
            n % 256,
            n % 100,
            n % 5000,
            500 + n % 4,
            n,
            i % 5,
        )
        .unwrap();
    }
    out
}
