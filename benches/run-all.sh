#!/usr/bin/env bash
# Runs every benchmark of the project, one after the other, and prints their
# Markdown (the tables of BENCHMARKS.md) on stdout; progress goes to stderr.
#
#   bash benches/run-all.sh | tee bench-results.md
#   bash benches/run-all.sh --quick     # smoke test: indicative numbers only
#   bash benches/run-all.sh --skip-supervisor
#   bash benches/run-all.sh --skip-sweep      # without the sync daemon's fault sweep
#
# Run it on an otherwise idle machine: the benchmarks share its cores. In a
# source tree outside git (say, from `git archive`), name the commit with
# SIGNAL_COMMIT.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
supervisor=1
sweep=1
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        --skip-supervisor) supervisor=0 ;;
        --skip-sweep) sweep=0 ;;
        *) echo "unknown argument: $arg (expected --quick, --skip-supervisor, --skip-sweep)" >&2; exit 2 ;;
    esac
done

echo "# Benchmark run"
echo
echo "- commit: \`$(git rev-parse --short HEAD 2>/dev/null || echo "${SIGNAL_COMMIT:-unknown}")\`"
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "- CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores available"
echo "- memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "- OS: $(uname -sr)"
echo "- $(rustc --version), $(cargo --version)"
echo "- load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

echo "== runtime: cargo bench --bench signal" >&2
if [ "$quick" = 1 ]; then
    cargo bench --quiet --bench signal -- --quick
else
    cargo bench --quiet --bench signal
fi

echo "== compile time: bash benches/compile-time.sh" >&2
if [ "$quick" = 1 ]; then
    RUNS=1 NIGHTLY=0 bash benches/compile-time.sh
else
    bash benches/compile-time.sh
fi

echo "== supervisor: cargo bench -p signal-runtime --bench runtime" >&2
if [ "$supervisor" = 0 ]; then
    echo "supervisor benchmark skipped (--skip-supervisor)" >&2
elif [ -f signal-runtime/benches/runtime.rs ]; then
    cargo bench --quiet -p signal-runtime --bench runtime
else
    echo "signal-runtime/benches/runtime.rs not found: supervisor benchmark skipped" >&2
fi

echo "== reactions across calls: cargo bench -p signal-runtime --bench reactions" >&2
if [ "$supervisor" = 0 ]; then
    echo "reactions benchmark skipped (--skip-supervisor)" >&2
else
    cargo bench --quiet -p signal-runtime --bench reactions --features tower,backon
fi

echo "== sync daemon fault sweep: bash benches/fault-sweep.sh" >&2
if [ "$sweep" = 0 ]; then
    echo "fault sweep skipped (--skip-sweep)" >&2
elif [ "$quick" = 1 ]; then
    JOBS=2000 DURATION=20 bash benches/fault-sweep.sh
else
    bash benches/fault-sweep.sh
fi

echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
