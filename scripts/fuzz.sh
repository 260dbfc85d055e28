#!/usr/bin/env bash
# Builds every cargo-fuzz target in fuzz/ and runs each for a bounded time, seeded from the
# captured SDK requests (scripts/fuzz-seeds.py). A crash fails the run and leaves its input in
# fuzz/artifacts/<target>/: turn it into a regression test beside the parser, then fix it.
#
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 20 s, every target)
# Needs cargo-fuzz (installed when missing) and a compiler that takes its unstable flags: the
# nightly toolchain when installed, else the stable one with RUSTC_BOOTSTRAP=1.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-20}"
shift || true
fixtures="${VIGIL_FIXTURES:-$root/../shared/fixtures/sdk-payloads}"
cargo_fuzz_version="0.13.2"

if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
  echo "fuzz: installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked --quiet
fi

# cargo on the toolchain cargo-fuzz needs.
fuzz_cargo() {
  if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    cargo +nightly "$@"
  else
    RUSTC_BOOTSTRAP=1 cargo "$@"
  fi
}

cd "$root/fuzz"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(fuzz_cargo fuzz list)
fi

corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
python3 "$root/scripts/fuzz-seeds.py" "$fixtures" "$corpus"

# No sanitizer: the code is safe Rust (ASan would only slow it); debug assertions stay on, so
# overflows and out-of-range slicing panic as they would in a test.
fuzz_cargo fuzz build --sanitizer none --debug-assertions

failed=()
for target in "${targets[@]}"; do
  echo "fuzz: $target for ${seconds}s"
  if ! fuzz_cargo fuzz run --sanitizer none --debug-assertions "$target" "$corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      > "$corpus/$target.log" 2>&1; then
    tail -40 "$corpus/$target.log"
    failed+=("$target")
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$corpus/$target.log" | tr '\n' ' '
    echo
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crash"
