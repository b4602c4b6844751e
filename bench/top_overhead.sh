#!/bin/sh
# top_overhead.sh — what publishing the GIL's counters for `gilrun top`
# costs: bench/lua/fib.lua (one thread) and bench/lua/two_threads.lua (two
# CPU-bound threads), alternating runs with the monitor page on and off
# (GILRUN_MONITOR=off), medians.
#   bench/top_overhead.sh [path/to/gilrun [runs [fib-n [threads-n]]]]
set -eu
GILRUN=${1:-build/bindings/cli/gilrun}
RUNS=${2:-11}
FIB_N=${3:-32}
THREADS_N=${4:-30}
DIR=$(cd "$(dirname "$0")" && pwd)
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
uptime
on_fib=""; off_fib=""; on_two=""; off_two=""
i=0
while [ $i -lt "$RUNS" ]; do
  on_fib="$on_fib $("$GILRUN" "$DIR/lua/fib.lua" "$FIB_N" | sed 's/.*cpu=//')"
  off_fib="$off_fib $(GILRUN_MONITOR=off "$GILRUN" "$DIR/lua/fib.lua" "$FIB_N" | sed 's/.*cpu=//')"
  off_two="$off_two $(GILRUN_MONITOR=off "$GILRUN" "$DIR/lua/two_threads.lua" "$THREADS_N" | sed 's/.* threads=\([0-9.]*\).*/\1/')"
  on_two="$on_two $("$GILRUN" "$DIR/lua/two_threads.lua" "$THREADS_N" | sed 's/.* threads=\([0-9.]*\).*/\1/')"
  i=$((i + 1))
done
m() { echo "$1" | tr ' ' '\n' | grep . | median; }
printf 'fib(%s), one thread:   on %s s   off %s s   on/off %s\n' "$FIB_N" "$(m "$on_fib")" "$(m "$off_fib")" \
  "$(echo "$(m "$on_fib") $(m "$off_fib")" | awk '{printf "%.4f", $1/$2}')"
printf 'fib(%s) in 2 threads:  on %s s   off %s s   on/off %s\n' "$THREADS_N" "$(m "$on_two")" "$(m "$off_two")" \
  "$(echo "$(m "$on_two") $(m "$off_two")" | awk '{printf "%.4f", $1/$2}')"
uptime
