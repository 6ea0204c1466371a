#!/usr/bin/env bash
# Every `unsafe {` block and `unsafe impl` in src/, engine/src/, pcap/src/
# and testkit/src/ must have a `SAFETY:` comment on one of the 6 lines above
# it (or on the same line).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r -d '' f; do
    awk -v file="$f" '
        { line[NR] = $0 }
        /unsafe \{|unsafe impl/ && !/^\s*\/\// {
            ok = ($0 ~ /SAFETY:/)
            for (i = NR - 1; i >= NR - 6 && i > 0 && !ok; i--) if (line[i] ~ /SAFETY:/) ok = 1
            if (!ok) { printf "%s:%d: unsafe without a SAFETY comment\n", file, NR; bad = 1 }
        }
        END { exit bad }' "$f" || bad=1
done < <(find src engine/src pcap/src testkit/src -name '*.rs' -print0)
[ $bad -eq 0 ] && echo "every unsafe block has a SAFETY comment"
exit $bad
