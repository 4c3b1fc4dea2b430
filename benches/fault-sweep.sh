#!/usr/bin/env bash
# Fault sweep of the sync daemon (the main example): every fault rate with
# every worker count, one run each, on real SQLite and a real flapping remote
# on 127.0.0.1. Prints a Markdown table on stdout (the one in BENCHMARKS.md);
# progress goes to stderr.
#
#   bash benches/fault-sweep.sh | tee sweep.md
#   RATES="0.05 0.5" WORKERS="1 8 64" JOBS=5000 DURATION=30 bash benches/fault-sweep.sh
#
# Each run gets --duration DURATION: a run that hits it reports its
# unfinished jobs as `pending` and exits 3, and the table says so. Run it on
# an otherwise idle machine; the daemon and its remote share its cores.
set -euo pipefail
cd "$(dirname "$0")/.."

rates="${RATES:-0.005 0.02 0.05 0.1 0.2 0.5}"
workers="${WORKERS:-8 64}"
jobs="${JOBS:-20000}"
duration="${DURATION:-60}"
seed="${SEED:-42}"

echo "== building: cargo build --release --example sync_daemon" >&2
cargo build --quiet --release --example sync_daemon
bin=target/release/examples/sync_daemon

echo "### Fault sweep: $jobs jobs, seed $seed, --duration $duration"
echo
echo "- commit: \`$(git rev-parse --short HEAD 2>/dev/null || echo "${SIGNAL_COMMIT:-unknown}")\`, $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| fault rate | workers | jobs/s | wall s | committed + dead | pending | lost | duplicated | exit | rebuilds | retries | network faults | pool drops | requests | stalled calls (worker-s) | remote down s | restart waits worker-s | held over |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"

# The value of `key=` in a line of `key=value` fields.
field() {
    sed -n "s/.*[ (]$1=\([^ ]*\).*/\1/p;s/^$1=\([^ ]*\).*/\1/p" <<<"$2" | head -1
}

for w in $workers; do
    for rate in $rates; do
        echo "== fault rate $rate, $w workers" >&2
        start=$(date +%s.%N)
        status=0
        out=$("$bin" --quiet --log off --jobs "$jobs" --workers "$w" \
            --fault-rate "$rate" --seed "$seed" --duration "$duration") || status=$?
        end=$(date +%s.%N)
        line=$(grep '^jobs=' <<<"$out" || true)
        costs=$(grep '^costs:' <<<"$out" || true)
        if [ -z "$line" ]; then
            echo "| $rate | $w | no accounting line (exit $status) | | | | | | | | | | | | | | | |"
            continue
        fi
        committed=$(field committed "$line")
        dead=$(field dead_lettered "$line")
        wall=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
        finished=$((committed + dead))
        rate_js=$(awk -v n="$finished" -v s="$start" -v e="$end" 'BEGIN { printf "%.0f", n / (e - s) }')
        network=$(sed -n 's/.*(network \([0-9]*\), pool drops \([0-9]*\)).*/\1/p' <<<"$line")
        drops=$(sed -n 's/.*(network \([0-9]*\), pool drops \([0-9]*\)).*/\2/p' <<<"$line")
        stalled=$(field stalled_calls "$costs")
        stalled_s=$(sed -n 's/.*stalled_calls=[0-9]* (\([0-9.]*\) worker-s.*/\1/p' <<<"$costs")
        down=$(field remote_down "$costs")
        waits=$(field restart_waits "$costs")
        echo "| $rate | $w | $rate_js | $wall | $finished | $(field pending "$line") | $(field lost "$line") | $(field duplicated "$line") | $status | $(field pool_rebuilds "$line") | $(field retries "$line") | $network | $drops | $(field requests "$costs") | $stalled ($stalled_s) | ${down%s} | $waits | $(field held_over "$costs") |"
    done
done
echo
echo "load average after the sweep: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
