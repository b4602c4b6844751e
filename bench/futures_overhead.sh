#!/bin/sh
# futures_overhead.sh — issue 13's goal (each futures executor >= 5x cheaper
# per submit+result than its CPython counterpart), measured side by side:
# scripts/bench/futures_overhead.lua runs gilrun's three executors and then the
# same loop in CPython's ThreadPoolExecutor(4)/ProcessPoolExecutor(2), in one
# process run; this repeats that `runs` times and prints, per executor, the
# median microseconds per round trip of both and the median of the per-run
# ratios, with the load average before and after.
#   bench/futures_overhead.sh [path/to/gilrun [runs [rounds [repeats]]]]
set -eu
GILRUN=${1:-build/bindings/cli/gilrun}
RUNS=${2:-5}
ROUNDS=${3:-20000}
REPEATS=${4:-5}
DIR=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
load_before=$(uptime | sed 's/.*load average: //')
i=0
while [ $i -lt "$RUNS" ]; do
  "$GILRUN" "$DIR/../scripts/bench/futures_overhead.lua" "$ROUNDS" "$REPEATS" >>"$OUT"
  i=$((i + 1))
done
load_after=$(uptime | sed 's/.*load average: //')
grep -m1 '^executor' "$OUT" | sed 's/.*vs /CPython: /'
# Rows: "futures.thread_pool(4)  30.1  ThreadPoolExecutor(4) 24.5 us: 0.8x cheaper"
awk '
  /^futures\./ {
    name = $1; us[name] = us[name] " " $2
    if ($4 != "") { py[name] = $3; pyus[name] = pyus[name] " " $4; x = $6; sub(/x$/, "", x); r[name] = r[name] " " x }
    order[name] = ++seen[name] == 1 ? ++n : order[name]; names[order[name]] = name
  }
  function median(list,   a, k, i, j, t) {
    k = split(list, a, " ")
    for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return k == 0 ? "n/a" : (k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2)
  }
  END {
    printf "%-26s %14s   %-24s %14s   %s\n", "executor", "gilrun us", "CPython", "CPython us", "ratio (goal >= 5x)"
    for (i = 1; i <= n; i++) {
      name = names[i]; m = median(r[name])
      printf "%-26s %14s   %-24s %14s   %sx %s\n", name, median(us[name]), py[name], median(pyus[name]), m,
             (m + 0 >= 5 ? "met" : "not met")
    }
  }' "$OUT"
echo "medians of $RUNS runs (each: $REPEATS repeats of $ROUNDS rounds; processes rounds/10); load average before: $load_before; after: $load_after"
echo "$load_before $load_after" | tr -d ',' | awk -v c="$(nproc)" '{m = 0; for (i = 1; i <= NF; i += 3) if ($i > m) m = $i;
  if (m > c) printf "indicative only: 1-minute load %.2f was above the %d cores\n", m, c}'
