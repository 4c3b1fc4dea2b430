#!/usr/bin/env bash
# Compile-time cost of #[derive(Signal)].
#
# Generates a crate of 200 error enums (20 variants each) three times: with
# `thiserror` alone, with `thiserror` plus the classification methods a team
# writes by hand today (one `match` per enum per question, two questions),
# and with `thiserror` + `#[derive(Signal)]` (benches/compile_time/gen.rs),
# then builds each with its own target
# directory: dependencies once, then the generated crate alone, `RUNS` times
# (`touch src/lib.rs`, non-incremental, same profile), and reports the
# medians and their ratio for `cargo build` (dev profile) and `cargo check`.
# Then, incrementally (`CARGO_INCREMENTAL=1`, as in an editor), it changes one
# line of `src/other.rs`, a module that does not touch the error types, and
# times `cargo check` again; the peak memory of the compiler in that check
# and in the full check are read with GNU time.
#
# With a nightly toolchain installed (and NIGHTLY=1, the default), it then
# rebuilds each crate once on nightly with `-Z time-passes`, and the signal
# flavour with `-Z macro-stats`, to show where the extra time goes. Nightly is
# used for that breakdown only; the timed builds use the default toolchain.
#
# Prints Markdown on stdout. Everything is written under $OUT (default
# /tmp/signal-compile-time), never in the repository.
#
# With INSTRUCTIONS=1 (and valgrind installed) it also counts the compiler's
# instructions in one `cargo check` of each crate alone, under callgrind:
# deterministic, unlike wall time on a shared machine, and slow (minutes per
# flavour).
#
#   bash benches/compile-time.sh
#   RUNS=5 OUT=/tmp/ct bash benches/compile-time.sh
#   INSTRUCTIONS=1 NIGHTLY=0 bash benches/compile-time.sh
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-/tmp/signal-compile-time}"
RUNS="${RUNS:-3}"
NIGHTLY="${NIGHTLY:-1}"
FLAVOURS=(thiserror handwritten signal)

export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR=never
unset RUSTFLAGS

log() { echo "$*" >&2; }

mkdir -p "$OUT"
rustc -O --edition 2024 "$ROOT/benches/compile_time/gen.rs" -o "$OUT/gen"
"$OUT/gen" "$OUT/thiserror" thiserror
"$OUT/gen" "$OUT/handwritten" handwritten
"$OUT/gen" "$OUT/signal" signal "$ROOT/signal-core"
for flavour in "${FLAVOURS[@]}"; do
    # The repository's lock file pins the same dependency versions.
    cp "$ROOT/Cargo.lock" "$OUT/$flavour/Cargo.lock"
done

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# seconds <flavour> <cargo args...>: wall time of one rebuild of the
# generated crate alone.
seconds() {
    local flavour=$1
    shift
    touch "$OUT/$flavour/src/lib.rs"
    local start end
    start=$(date +%s.%N)
    (cd "$OUT/$flavour" && CARGO_TARGET_DIR="$OUT/target-$flavour" cargo "$@" --offline --quiet)
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
}

declare -A MEDIAN ALL
for command in build check; do
    for flavour in "${FLAVOURS[@]}"; do
        log "compile time: cargo $command, $flavour (dependencies first)"
        (cd "$OUT/$flavour" && CARGO_TARGET_DIR="$OUT/target-$flavour" cargo "$command" --offline --quiet)
    done
    # Interleave the flavours so a slow moment of the machine hits both.
    declare -A times=()
    for run in $(seq "$RUNS"); do
        for flavour in "${FLAVOURS[@]}"; do
            t=$(seconds "$flavour" "$command")
            log "  run $run, $flavour: $t s"
            times[$flavour]+="$t "
        done
    done
    for flavour in "${FLAVOURS[@]}"; do
        MEDIAN[$command,$flavour]=$(echo "${times[$flavour]}" | tr ' ' '\n' | grep . | median)
        ALL[$command,$flavour]=$(echo "${times[$flavour]}" | xargs | sed 's/ /, /g')
    done
    unset times
done

# Incremental checks after a one-line edit in another module of the crate,
# and the compiler's peak memory (GNU time's maximum resident set size, in
# KiB: the largest of cargo and the rustc it waits for).
declare -A INCR RSS_INCR RSS_FULL ALL_INCR
have_time=0
[ -x /usr/bin/time ] && have_time=1
peak() {
    # peak <file> <flavour> <cargo args...>: runs cargo in the flavour's
    # directory, writing the peak RSS (KiB) to <file>.
    local file=$1 flavour=$2
    shift 2
    if [ "$have_time" = 1 ]; then
        (cd "$OUT/$flavour" && /usr/bin/time -f %M -o "$file" cargo "$@" --offline --quiet)
    else
        (cd "$OUT/$flavour" && cargo "$@" --offline --quiet)
        echo 0 >"$file"
    fi
}
for flavour in "${FLAVOURS[@]}"; do
    log "incremental check: $flavour (first check)"
    (cd "$OUT/$flavour" && CARGO_INCREMENTAL=1 CARGO_TARGET_DIR="$OUT/target-$flavour-incr" cargo check --offline --quiet)
done
declare -A itimes=() irss=() frss=()
for run in $(seq "$RUNS"); do
    for flavour in "${FLAVOURS[@]}"; do
        sed -i "s/EDITED: u64 = [0-9]*/EDITED: u64 = $run/" "$OUT/$flavour/src/other.rs"
        start=$(date +%s.%N)
        CARGO_INCREMENTAL=1 CARGO_TARGET_DIR="$OUT/target-$flavour-incr" peak "$OUT/$flavour.rss" "$flavour" check
        end=$(date +%s.%N)
        t=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }')
        itimes[$flavour]+="$t "
        irss[$flavour]+="$(cat "$OUT/$flavour.rss") "
        touch "$OUT/$flavour/src/lib.rs"
        CARGO_TARGET_DIR="$OUT/target-$flavour" peak "$OUT/$flavour.rss" "$flavour" check
        frss[$flavour]+="$(cat "$OUT/$flavour.rss") "
        log "  run $run, $flavour: incremental $t s"
    done
done
for flavour in "${FLAVOURS[@]}"; do
    INCR[$flavour]=$(echo "${itimes[$flavour]}" | tr ' ' '\n' | grep . | median)
    ALL_INCR[$flavour]=$(echo "${itimes[$flavour]}" | xargs | sed 's/ /, /g')
    RSS_INCR[$flavour]=$(echo "${irss[$flavour]}" | tr ' ' '\n' | grep . | median)
    RSS_FULL[$flavour]=$(echo "${frss[$flavour]}" | tr ' ' '\n' | grep . | median)
done

lines() { cat "$OUT/$1"/src/*.rs | wc -l | tr -d ' '; }

echo "## Compile time: 200 enums × 20 variants"
echo
echo "Generated crate: $(lines thiserror) lines (\`thiserror\`), $(lines handwritten) lines (\`thiserror\` + hand-written methods), $(lines signal) lines (\`thiserror\` + \`Signal\`)."
echo "Each time: wall time of rebuilding the generated crate alone (dependencies built), median of $RUNS runs, interleaved,"
echo "$(rustc --version). Full builds are non-incremental (\`touch src/lib.rs\`); the incremental check follows a one-line edit"
echo "in \`src/other.rs\`, a module that does not touch the error types. Memory: the compiler's peak resident set (GNU time)."
echo "The goal is the issue's: each figure at most 1.3× the hand-written methods it replaces."
echo
echo "| figure | \`thiserror\` alone | + hand-written | + \`Signal\` | \`Signal\` ÷ \`thiserror\` | \`Signal\` ÷ hand-written | goal | runs (thiserror; hand-written; signal) |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
row() {
    # row <label> <unit> <thiserror> <hand-written> <signal> <runs>
    local label=$1 unit=$2 a=$3 h=$4 b=$5 runs=$6
    local ratio versus verdict
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "—" }')
    versus=$(awk -v a="$h" -v b="$b" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "—" }')
    verdict=$(awk -v r="$versus" 'BEGIN { if (r == "—") print "—"; else print (r <= 1.3) ? "≤ 1.30× (met)" : "≤ 1.30× (**missed**)" }')
    echo "| $label | $a $unit | $h $unit | $b $unit | ${ratio}× | ${versus}× | $verdict | $runs |"
}
for command in check build; do
    label="\`cargo $command\`, crate alone"
    [ "$command" = build ] && label="\`cargo build\` (dev), crate alone"
    row "$label" s "${MEDIAN[$command,thiserror]}" "${MEDIAN[$command,handwritten]}" "${MEDIAN[$command,signal]}" \
        "${ALL[$command,thiserror]}; ${ALL[$command,handwritten]}; ${ALL[$command,signal]}"
done
row "incremental \`cargo check\` after a one-line edit elsewhere" s "${INCR[thiserror]}" "${INCR[handwritten]}" "${INCR[signal]}" \
    "${ALL_INCR[thiserror]}; ${ALL_INCR[handwritten]}; ${ALL_INCR[signal]}"
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
row "peak memory, full \`cargo check\`" MiB "$(mib "${RSS_FULL[thiserror]}")" "$(mib "${RSS_FULL[handwritten]}")" "$(mib "${RSS_FULL[signal]}")" "medians"
row "peak memory, incremental \`cargo check\`" MiB "$(mib "${RSS_INCR[thiserror]}")" "$(mib "${RSS_INCR[handwritten]}")" "$(mib "${RSS_INCR[signal]}")" "medians"
echo

if [ "${INSTRUCTIONS:-0}" = 1 ] && command -v valgrind >/dev/null; then
    declare -A IR
    for flavour in "${FLAVOURS[@]}"; do
        log "instructions: cargo check, $flavour (callgrind)"
        touch "$OUT/$flavour/src/lib.rs"
        # The compiler's own command line for the crate, as cargo runs it.
        line=$(cd "$OUT/$flavour" && CARGO_TARGET_DIR="$OUT/target-$flavour" cargo check --offline -v 2>&1 |
            grep 'Running `' | grep -- '--crate-name errors_' | tail -1)
        line=${line#*Running \`}
        line=${line%\`}
        (cd "$OUT/$flavour" && eval "valgrind --tool=callgrind --callgrind-out-file=/dev/null $line") \
            >/dev/null 2>"$OUT/$flavour.callgrind.txt" || true
        IR[$flavour]=$(grep -o 'refs: *[0-9,]*' "$OUT/$flavour.callgrind.txt" | tr -dc '0-9')
    done
    echo "### Compiler instructions, \`cargo check\` of each crate alone (callgrind, one run)"
    echo
    echo "| \`thiserror\` alone | + hand-written | + \`Signal\` | \`Signal\` ÷ hand-written | \`Signal\` ÷ \`thiserror\` |"
    echo "|---:|---:|---:|---:|---:|"
    awk -v a="${IR[thiserror]}" -v h="${IR[handwritten]}" -v b="${IR[signal]}" \
        'BEGIN { printf "| %.2f G | %.2f G | %.2f G | %.2f× | %.2f× |\n", a / 1e9, h / 1e9, b / 1e9, b / h, b / a }'
    echo
fi

if [ "$NIGHTLY" != 1 ] || ! rustup run nightly rustc --version >/dev/null 2>&1; then
    log "no nightly toolchain (or NIGHTLY=0): skipping the -Z time-passes breakdown"
    exit 0
fi

# rustc's passes, as named by -Z time-passes, in pipeline order.
PASSES=(
    parse_crate
    expand_crate
    type_check_crate
    MIR_borrow_checking
    monomorphization_collector_graph_walk
    generate_crate_metadata
    codegen_to_LLVM_IR
    LLVM_passes
    codegen_crate
    link
    total
)

for flavour in thiserror signal; do
    log "time passes: $flavour (nightly, dependencies first)"
    target="$OUT/target-$flavour-nightly"
    (cd "$OUT/$flavour" && CARGO_TARGET_DIR="$target" cargo +nightly build --offline --quiet)
    touch "$OUT/$flavour/src/lib.rs"
    (cd "$OUT/$flavour" && CARGO_TARGET_DIR="$target" cargo +nightly rustc --offline --quiet --lib -- -Z time-passes) \
        2>"$OUT/$flavour.time-passes.txt"
done
log "macro stats: signal (nightly)"
touch "$OUT/signal/src/lib.rs"
(cd "$OUT/signal" && CARGO_TARGET_DIR="$OUT/target-signal-nightly" cargo +nightly rustc --offline --quiet --lib -- -Z macro-stats) \
    2>"$OUT/signal.macro-stats.txt"

# pass <file> <name>: seconds spent in a top-level pass (the last line with
# that name is the outermost one).
pass() {
    awk -v name="$2" '$1 == "time:" && $NF == name { t = $2; sub(";", "", t) } END { print (t == "" ? "—" : t) }' "$1"
}

echo "### Where the time goes (\`cargo +nightly rustc --lib -- -Z time-passes\`, dev profile, one run)"
echo
echo "$(rustc +nightly --version). Seconds per pass. Passes nest and overlap: \`codegen_crate\` includes \`codegen_to_LLVM_IR\` and waits for \`LLVM_passes\`, which run on worker threads; \`total\` is the whole compilation."
echo
echo "| pass | \`thiserror\` alone | \`thiserror\` + \`Signal\` | difference |"
echo "|---|---:|---:|---:|"
for p in "${PASSES[@]}"; do
    a=$(pass "$OUT/thiserror.time-passes.txt" "$p")
    b=$(pass "$OUT/signal.time-passes.txt" "$p")
    d=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a == "—" || b == "—") print "—"; else printf "%+.3f", b - a }')
    echo "| \`$p\` | $a | $b | $d |"
done
echo
echo "### Code generated per macro (\`-Z macro-stats\`, \`thiserror\` + \`Signal\` crate)"
echo
echo '```text'
grep -E "macro-stats" "$OUT/signal.macro-stats.txt" | sed 's/^macro-stats //' | head -30
echo '```'
echo

if ! command -v python3 >/dev/null || ! command -v llvm-cxxfilt >/dev/null; then
    log "no python3 or llvm-cxxfilt: skipping the LLVM IR breakdown"
    exit 0
fi
log "LLVM IR breakdown: signal (default toolchain, one codegen unit)"
rm -f "$OUT"/target-signal/debug/deps/errors_signal-*.ll
touch "$OUT/signal/src/lib.rs"
(cd "$OUT/signal" && CARGO_TARGET_DIR="$OUT/target-signal" cargo rustc --offline --quiet --lib -- \
    --emit=llvm-ir -C codegen-units=1 -C symbol-mangling-version=v0)
echo "### LLVM IR of the \`thiserror\` + \`Signal\` crate, by the code that produced it"
echo
echo "Dev profile, one codegen unit, \`--emit=llvm-ir\`, attributed by demangled name (benches/compile_time/llvm_lines.py)."
echo
python3 "$ROOT/benches/compile_time/llvm_lines.py" "$OUT"/target-signal/debug/deps/errors_signal-*.ll
echo
rm -f "$OUT"/target-signal/debug/deps/errors_signal-*.ll
log "raw outputs: $OUT/*.time-passes.txt, $OUT/signal.macro-stats.txt"
