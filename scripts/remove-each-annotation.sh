#!/usr/bin/env bash
# Proves the derive's guarantee on real code: every `forward`, `forward(...)`,
# `forward_with`, `chain(...)` and `skip` annotation in the example
# hierarchy, the sync daemon's errors and the test files that derive
# `Signal` is removed, one at a time, and the build must then fail with the
# derive's error on that very field.
#
# Which fields may compile without their annotation? None that can carry a
# signal, and the derive itself says which cannot: `forward` and `skip` on a
# field that cannot carry signals are compile errors, so every `forward` and
# `skip` that compiles sits on a field that can, and its removal must fail.
# A `forward_with` or `chain(...)` may read a foreign type that carries
# nothing the compiler can see (no `Signal`, no registered classifier, not
# type-erased): the script asks the derive, by putting `skip` there instead,
# and if the derive answers "cannot carry signals" the field is reported as
# such and not counted as a failure.
#
# Usage: scripts/remove-each-annotation.sh [FILE...]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$#" -gt 0 ]; then
    files=("$@")
else
    files=(src/hierarchy.rs src/daemon/errors.rs src/fleet.rs)
    for file in tests/*.rs signal-core/tests/*.rs; do
        grep -q 'derive(.*Signal' "$file" && files+=("$file")
    done
fi

# Prints, for the N-th (1-based) field annotation of a file, the file with
# that annotation replaced by REPLACEMENT (newlines kept, so line numbers do
# not move). With N=0, prints one line per annotation: "start end key".
mutate() {
    awk -v target="$2" -v replacement="$3" '
    BEGIN { RS = "\001"; ORS = "" }
    {
        text = $0; n = length(text); count = 0; out = ""; last = 1; line = 1; i = 1
        while (i <= n) {
            c = substr(text, i, 1)
            if (c == "\n") { line++; i++; continue }
            if (c == "\"") {                      # skip string literals
                i++
                while (i <= n && substr(text, i, 1) != "\"") {
                    if (substr(text, i, 1) == "\\") i++
                    else if (substr(text, i, 1) == "\n") line++
                    i++
                }
                i++; continue
            }
            if (c == "/" && substr(text, i + 1, 1) == "/") {   # skip comments
                while (i <= n && substr(text, i, 1) != "\n") i++
                continue
            }
            if (substr(text, i, 9) != "#[signal(") { i++; continue }
            start = i; startline = line; j = i + 9; depth = 1
            while (j <= n && depth > 0) {
                d = substr(text, j, 1)
                if (d == "\"") {
                    j++
                    while (j <= n && substr(text, j, 1) != "\"") {
                        if (substr(text, j, 1) == "\\") j++
                        else if (substr(text, j, 1) == "\n") line++
                        j++
                    }
                } else if (d == "(") depth++
                else if (d == ")") depth--
                else if (d == "\n") line++
                j++
            }
            # j is just past the closing ")"; expect "]".
            end = j
            inner = substr(text, i + 9, end - i - 10)
            gsub(/^[ \t\n]+/, "", inner)
            match(inner, /^[a-z_]+/)
            key = substr(inner, RSTART, RLENGTH)
            i = end + 1
            if (key != "forward" && key != "skip" && key != "forward_with" && key != "chain") continue
            count++
            if (target == 0) { print startline " " line " " key "\n"; continue }
            if (count != target) continue
            attribute = substr(text, start, end - start + 1)
            kept = attribute; gsub(/[^\n]/, "", kept)
            out = out substr(text, last, start - last) replacement kept
            last = end + 1
        }
        if (target != 0) print out substr(text, last)
    }' "$1"
}

check() {
    local file=$1
    local name
    name=$(basename "$file" .rs)
    case "$file" in
        signal-core/tests/*) cargo check -q -p signal-core --all-features --test "$name" --message-format short 2>&1 ;;
        tests/*) cargo check -q -p signal-workspace --all-features --test "$name" --message-format short 2>&1 ;;
        *) cargo check -q -p signal-workspace --lib --message-format short 2>&1 ;;
    esac
}

total=0
failed=0
exempt=0
for file in "${files[@]}"; do
    backup=$(mktemp)
    cp "$file" "$backup"
    trap 'cp "$backup" "$file"; rm -f "$backup"' EXIT
    if ! check "$file" >/dev/null; then
        echo "$file does not compile before any removal" >&2
        exit 1
    fi
    index=0
    while read -r start end key; do
        index=$((index + 1))
        total=$((total + 1))
        mutate "$backup" "$index" "" >"$file"
        if out=$(check "$file"); then
            if [ "$key" = "forward_with" ] || [ "$key" = "chain" ]; then
                mutate "$backup" "$index" '#[signal(skip = "probe")]' >"$file"
                if ! probe=$(check "$file") && grep -q "$(basename "$file"):.*which cannot carry signals" <<<"$probe"; then
                    echo "$file:$start: \`$key\` reads a type that carries no signal the derive can see: exempt"
                    exempt=$((exempt + 1))
                    continue
                fi
            fi
            echo "$file:$start: still compiles without its \`$key\`" >&2
            failed=$((failed + 1))
            continue
        fi
        lines=$(seq "$start" $((end + 2)) | paste -sd'|')
        if ! grep -Eq "$(basename "$file"):($lines):[0-9]+: error.*(neither forwarded nor skipped|cannot tell whether this field carries signals|is not the standard library)" <<<"$out"; then
            echo "$file:$start: removing \`$key\` failed, but not with the derive's error on that field:" >&2
            echo "$out" | head -20 >&2
            failed=$((failed + 1))
        fi
    done < <(mutate "$backup" 0 "")
    cp "$backup" "$file"
    rm -f "$backup"
    trap - EXIT
done
echo "removed each of $total annotations (forward, forward_with, chain, skip) in ${#files[@]} files: $((total - failed - exempt)) failed to compile on that field, $exempt exempt (type carries nothing the derive can see), $failed did not"
[ "$failed" -eq 0 ]
