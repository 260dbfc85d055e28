//! `vigil`: the server and its command line, wiring the crates together.

mod cli;
mod commands;
mod storage;

use clap::Parser;

/// jemalloc instead of glibc's malloc: processing builds and drops many small JSON values per
/// event, and under concurrency glibc's arenas both cost a quarter of the CPU and hold on to
/// freed memory (BENCHMARKS.md, "Allocator").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read at its start: a background thread returns freed pages to the
/// system within about a second instead of on later allocations, which keeps the resident size
/// near what is in use after a burst. `_RJEM_MALLOC_CONF` in the environment still overrides.
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &[u8; 60] =
    b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr so that commands printing a DSN or a token keep stdout clean.
fn init_tracing(cli: &cli::Cli) {
    let default = if matches!(cli.command, cli::Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("VIGIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Colours only on a terminal: logs that go to files or journald stay plain text.
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
