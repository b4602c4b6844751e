#!/bin/sh
# top_overhead.sh — what publishing the GIL's counters for `gilrun top`
# costs (issue 15's goal: within 1% of publishing disabled), on
# scripts/bench/fib.lua (one thread) and scripts/bench/two_threads.lua (two CPU-bound
# threads). Each run is a pair: publishing on, and off (GILRUN_MONITOR=off),
# the order alternating from pair to pair so drifting load cancels. Prints,
# side by side, the medians of each, the median of the per-pair on/off ratios
# and the overhead it means, and the load average before and after.
#   bench/top_overhead.sh [path/to/gilrun [pairs [fib-n [threads-n]]]]
set -eu
GILRUN=${1:-build/bindings/cli/gilrun}
PAIRS=${2:-11}
FIB_N=${3:-32}
THREADS_N=${4:-30}
DIR=$(cd "$(dirname "$0")" && pwd)
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m() { echo "$1" | tr ' ' '\n' | grep . | median; }
fib() { "$@" "$DIR/../scripts/bench/fib.lua" "$FIB_N" | sed 's/.*cpu=//'; }
two() { "$@" "$DIR/../scripts/bench/two_threads.lua" "$THREADS_N" | sed 's/.* threads=\([0-9.]*\).*/\1/'; }
# pair WORKLOAD I: one on and one off run (off first on odd pairs); prints "on off".
pair() {
  if [ $(($2 % 2)) -eq 0 ]; then
    on=$($1 "$GILRUN"); off=$($1 env GILRUN_MONITOR=off "$GILRUN")
  else
    off=$($1 env GILRUN_MONITOR=off "$GILRUN"); on=$($1 "$GILRUN")
  fi
  echo "$on $off"
}
load_before=$(uptime | sed 's/.*load average: //')
fib_on=""; fib_off=""; fib_ratio=""; two_on=""; two_off=""; two_ratio=""
i=0
while [ $i -lt "$PAIRS" ]; do
  set -- $(pair fib $i)
  fib_on="$fib_on $1"; fib_off="$fib_off $2"; fib_ratio="$fib_ratio $(echo "$1 $2" | awk '{printf "%.5f", $1/$2}')"
  set -- $(pair two $i)
  two_on="$two_on $1"; two_off="$two_off $2"; two_ratio="$two_ratio $(echo "$1 $2" | awk '{printf "%.5f", $1/$2}')"
  i=$((i + 1))
done
load_after=$(uptime | sed 's/.*load average: //')
row() {
  r=$(m "$4")
  printf '%-22s %10s %10s %10s %+9.2f%%  %s\n' "$1" "$(m "$2")" "$(m "$3")" "$r" \
    "$(echo "$r" | awk '{print ($1 - 1) * 100}')" \
    "$(echo "$r" | awk '{print ($1 <= 1.01) ? "within 1%" : "over 1%"}')"
}
echo "publishing the GIL's counters (gilrun top) vs GILRUN_MONITOR=off: $PAIRS alternating pairs, medians"
printf '%-22s %10s %10s %10s %10s  %s\n' "workload" "on (s)" "off (s)" "on/off" "overhead" "goal <= 1%"
row "fib($FIB_N), one thread" "$fib_on" "$fib_off" "$fib_ratio"
row "fib($THREADS_N) x 2 threads" "$two_on" "$two_off" "$two_ratio"
echo "on/off is the median of the per-pair ratios; load average before: $load_before; after: $load_after"
cores=$(nproc)
echo "$load_before $load_after" | tr -d ',' | awk -v c="$cores" '{m = 0; for (i = 1; i <= NF; i += 3) if ($i > m) m = $i;
  if (m > c) printf "indicative only: 1-minute load %.2f was above the %d cores\n", m, c}'
