#!/usr/bin/env bash
# The benchmark regression gate: counts the CPU instructions each pipeline stage spends per
# item (event, transaction, row) and compares them with benches/budget.txt, the figures of the
# commit that last measured them. Fails when a stage grew by more than the tolerance.
#
#   scripts/bench-check.sh [--update] [--tolerance PERCENT] [STAGE...]
#
# --update      rewrites benches/budget.txt with the figures measured now (commit it with the
#               change that moved them, and say why in the commit message);
# --tolerance   how much a stage may grow before the check fails, in percent (default 10, or
#               $BENCH_TOLERANCE);
# STAGE...      only the stages whose names contain one of these words.
#
# Why instructions and not time: timings on a shared 2-core machine (or a CI runner) move by
# tens of percent from run to run; the instructions a fixed input costs move by less than
# 0.2 % (up to ~2 % where hash maps are seeded per process). Each stage is a divan benchmark (benches/budget.txt names its file and path), run
# twice under valgrind's cachegrind with one sample of 1 and of 11 iterations; the difference
# divided by 10 is one iteration's cost without the binary's start-up, fixture loading or
# first-use initialization (regexes compiled once per process). Divided by the items one
# iteration handles, it is the cost per item. The figures depend on the compiler and on the
# CPU features valgrind reports, so the file records the rustc that measured them.
#
# A stage whose bench file or benchmark does not exist yet is reported as missing, not failed.
# Needs valgrind (Debian: apt-get install valgrind; scripts/test.sh installs it in CI).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
budget=benches/budget.txt
small_iterations=1
large_iterations=11

die() { printf 'scripts/bench-check.sh: %s\n' "$*" >&2; exit 2; }

update=0
tolerance=${BENCH_TOLERANCE:-10}
filters=()
while [ $# -gt 0 ]; do
    case "$1" in
        --update) update=1 ;;
        --tolerance) tolerance=${2:?--tolerance needs a percentage}; shift ;;
        --tolerance=*) tolerance=${1#--tolerance=} ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) filters+=("$1") ;;
    esac
    shift
done
[[ "$tolerance" =~ ^[0-9]+([.][0-9]+)?$ ]] || die "--tolerance takes a percentage, not '$tolerance'"
command -v valgrind >/dev/null 2>&1 || die "valgrind not found (Debian: apt-get install valgrind)"
[ -f "$budget" ] || die "no $budget"

# The stages: `name bench-file benchmark-path items recorded` per line, # for comments.
stage_names=() stage_files=() stage_paths=() stage_items=() stage_recorded=()
while read -r name file path items recorded rest; do
    case "$name" in '' | '#'*) continue ;; esac
    [ -n "$recorded" ] && [ -z "$rest" ] || die "$budget: a stage line needs 5 fields: $name"
    selected=1
    if [ ${#filters[@]} -gt 0 ]; then
        selected=0
        for filter in "${filters[@]}"; do [[ "$name" == *"$filter"* ]] && selected=1; done
    fi
    [ "$selected" = 1 ] || continue
    stage_names+=("$name") stage_files+=("$file") stage_paths+=("$path")
    stage_items+=("$items") stage_recorded+=("$recorded")
done <"$budget"
[ ${#stage_names[@]} -gt 0 ] || die "no stage in $budget matches ${filters[*]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Build every bench binary the stages need, in one cargo run, and map each bench file to its
# executable. --workspace: the features of the whole workspace, as the `vigil` binary has them
# (and the build CI's tests already made), not those of one crate alone.
build_args=()
declare -A seen_file=()
for file in "${stage_files[@]}"; do
    [ -f "$file" ] && [ -z "${seen_file[$file]:-}" ] || continue
    seen_file[$file]=1
    build_args+=(--bench "$(basename "$file" .rs)")
done
declare -A executable=()
if [ ${#build_args[@]} -gt 0 ]; then
    build_args=(--workspace "${build_args[@]}")
    printf '==> cargo bench --no-run %s\n' "${build_args[*]}" >&2
    cargo bench --no-run --message-format=json-render-diagnostics "${build_args[@]}" \
        >"$work/build.json" || { echo "bench-check: the benches do not build"; exit 1; }
    while IFS=$'\t' read -r src exe; do
        executable[${src#"$repo"/}]=$exe
    done < <(grep '"reason":"compiler-artifact"' "$work/build.json" | grep '"kind":\["bench"\]' |
        sed -n 's/.*"src_path":"\([^"]*\)".*"executable":"\([^"]*\)".*/\1\t\2/p')
fi

# Instructions of one run of `benchmark` with one sample of `iterations` iterations; the bench
# runs in its crate's directory, as `cargo bench` runs it. Left out: what runs inside a
# once-only initialization (`Once::call_once_force`). That is where divan measures its timer's
# precision and its own overheads at start-up, loops that run until the clock looks steady and
# so take a different number of instructions on every run (tens of millions under valgrind);
# anything else initialized once runs in the first iteration, which the difference of the two
# runs drops anyway.
count_instructions() {
    local exe=$1 crate_dir=$2 benchmark=$3 iterations=$4 log=$5
    (cd "$crate_dir" && valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$log.cg" \
        --log-file="$log" "$exe" --bench --exact "$benchmark" --threads 1 \
        --sample-count 1 --sample-size "$iterations" >"$log.out" 2>&1) ||
        { cat "$log.out" "$log" >&2; return 1; }
    # cachegrind's file: `fn=NAME` starts a function's lines, `LINE IR` gives their counts.
    awk '/^fn=/ { once = index($0, "call_once_force") > 0; next }
         /^[0-9]/ && !once { total += $2 }
         END { printf "%.0f\n", total }' "$log.cg"
}

# Instructions of one item of a benchmark: the difference of a run with few and a run with many
# iterations (the two run at once, one per core), over the iterations and items between them.
per_item() {
    local exe=$1 crate_dir=$2 benchmark=$3 items=$4 log=$5 small_pid large_pid small large
    count_instructions "$exe" "$crate_dir" "$benchmark" "$small_iterations" "$log.small" >"$log.small.ir" &
    small_pid=$!
    count_instructions "$exe" "$crate_dir" "$benchmark" "$large_iterations" "$log.large" >"$log.large.ir" &
    large_pid=$!
    wait "$small_pid" || { wait "$large_pid"; return 1; }
    wait "$large_pid" || return 1
    small=$(cat "$log.small.ir") large=$(cat "$log.large.ir")
    echo $(( (large - small) / ((large_iterations - small_iterations) * items) ))
}

failed=0 grew=0
measured=()
printf '%-44s %14s %14s %9s\n' "stage (instructions per item)" recorded now change
for i in "${!stage_names[@]}"; do
    name=${stage_names[$i]} file=${stage_files[$i]} path=${stage_paths[$i]}
    items=${stage_items[$i]} recorded=${stage_recorded[$i]}
    measured[i]=-
    exe=${executable[$file]:-}
    if [ -z "$exe" ]; then
        printf '%-44s %14s %14s %9s  (no bench %s yet)\n' "$name" "$recorded" missing - "$file"
        continue
    fi
    crate_dir=${file%%/benches/*}
    # divan prints full benchmark paths with `--list --format terse` only when it believes
    # cargo-nextest runs it.
    (cd "$crate_dir" && NEXTEST=1 "$exe" --list --format terse) >"$work/list" ||
        die "$exe --list failed"
    if ! grep -qxF "$path: benchmark" "$work/list"; then
        printf '%-44s %14s %14s %9s  (no benchmark %s yet)\n' "$name" "$recorded" missing - "$path"
        continue
    fi
    if ! now=$(per_item "$exe" "$crate_dir" "$path" "$items" "$work/$i"); then
        printf '%-44s %14s %14s %9s  (the benchmark failed: output above)\n' "$name" "$recorded" error -
        failed=1
        continue
    fi
    # A count over budget is taken twice more and the lowest kept: a real regression stays
    # over, while the few percent a build's or a process's hash seeds move a count do not
    # repeat upwards three times.
    for retry in 1 2; do
        [ "$recorded" != - ] && awk -v r="$recorded" -v n="$now" -v t="$tolerance" \
            'BEGIN { exit !(n > r * (1 + t / 100)) }' || break
        again=$(per_item "$exe" "$crate_dir" "$path" "$items" "$work/$i.retry$retry") || break
        [ "$again" -lt "$now" ] && now=$again
    done
    measured[i]=$now
    if [ "$recorded" = - ]; then
        change="new" note="  (not recorded yet: --update records it)"
    else
        change=$(awk -v r="$recorded" -v n="$now" 'BEGIN { printf "%+.1f%%", (n - r) * 100 / r }')
        note=""
        if awk -v r="$recorded" -v n="$now" -v t="$tolerance" 'BEGIN { exit !(n > r * (1 + t / 100)) }'; then
            note="  GREW more than ${tolerance}%"
            grew=1
        elif awk -v r="$recorded" -v n="$now" -v t="$tolerance" 'BEGIN { exit !(n < r * (1 - t / 100)) }'; then
            note="  (faster: --update records it)"
        fi
    fi
    printf '%-44s %14s %14s %9s%s\n' "$name" "$recorded" "$now" "$change" "$note"
done

if [ "$update" = 1 ]; then
    [ "$failed" = 0 ] || die "a benchmark failed: $budget left as it was"
    declare -A new_figure=()
    for i in "${!stage_names[@]}"; do
        [ "${measured[i]}" = - ] || new_figure[${stage_names[$i]}]=${measured[i]}
    done
    rustc_version=$(rustc --version)
    commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    {
        while IFS= read -r line; do
            read -r name file path items recorded _ <<<"$line" || true
            case "$line" in
                '# Measured by '*)
                    echo "# Measured by $rustc_version, on top of commit $commit." ;;
                '' | '#'*) printf '%s\n' "$line" ;;
                *)
                    printf '%-40s %-40s %-56s %5s %s\n' "$name" "$file" "$path" "$items" \
                        "${new_figure[$name]:-$recorded}" ;;
            esac
        done <"$budget"
    } >"$work/budget.txt"
    cp "$work/budget.txt" "$budget"
    echo "updated $budget"
    exit 0
fi

recorded_by=$(sed -n 's/^# Measured by \(.*\), on top of commit .*/\1/p' "$budget")
if [ -n "$recorded_by" ] && [ "$recorded_by" != - ] && [ "$recorded_by" != "$(rustc --version)" ]; then
    echo "note: $budget was measured by $recorded_by, this is $(rustc --version): figures may shift"
fi
if [ "$failed" = 1 ]; then
    echo "bench-check: a benchmark failed"
    exit 1
fi
if [ "$grew" = 1 ]; then
    echo "bench-check: a stage grew more than ${tolerance}% in instructions per item. Make it" \
        "cheaper again, or if the cost is worth it, run scripts/bench-check.sh --update and say" \
        "why in the commit."
    exit 1
fi
echo "bench-check: every stage within ${tolerance}% of $budget"
