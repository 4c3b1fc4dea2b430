#!/usr/bin/env bash
# Proves the derive's guarantee on the example hierarchy: removing any one
# `#[signal(forward...)]` attribute from src/hierarchy.rs must make the crate
# fail to compile, with the error on that field.
set -euo pipefail
cd "$(dirname "$0")/.."

file=src/hierarchy.rs
backup=$(mktemp)
cp "$file" "$backup"
trap 'cp "$backup" "$file"; rm -f "$backup"' EXIT

lines=$(grep -n '#\[signal(forward' "$file" | grep -v '^[0-9]*:[[:space:]]*//' | cut -d: -f1)
total=0
failed=0
for line in $lines; do
    total=$((total + 1))
    cp "$backup" "$file"
    # Drop the attribute (and only it) from that line.
    sed -i "${line}s/#\[signal(forward[^]]*\]//" "$file"
    if out=$(cargo check -q -p signal-workspace --lib --message-format short 2>&1); then
        echo "line $line: still compiles without its forward" >&2
        failed=$((failed + 1))
    elif ! grep -q "hierarchy.rs:\($line\|$((line + 1))\):.*neither forwarded nor skipped" <<<"$out"; then
        echo "line $line: failed, but not with the missing-forward error on that field:" >&2
        echo "$out" >&2
        failed=$((failed + 1))
    fi
done
cp "$backup" "$file"
echo "removed each of $total forwards in $file: $((total - failed)) failed to compile on that field, $failed did not"
[ "$failed" -eq 0 ]
