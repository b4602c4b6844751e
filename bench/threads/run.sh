#!/usr/bin/env bash
# run.sh — gilrun's OS threads beside raw pthreads, in one run (issue 16 goal 1).
#
#   bench/threads/run.sh [path/to/gilrun] [path/to/pthread_twin]
#
# Runs pthread_twin (the floor: the same workload in raw pthreads, no VM, no
# GIL) and `gilrun scripts/bench/threads.lua` alternately, PAIRS times each (default 5), for
#   sleepers: N threads (default 10000) each sleep 200 ms; spawn all, join all
#   alive:    N threads each start, then sleep ALIVE_S (default 3 s): the time
#             until all N are alive ("spawn")
# and prints the medians and the ratio gilrun / pthreads of each. Goal: both
# ratios <= 1.5. Extra gilrun options go in GILRUN_OPTS (e.g. --gil=fifo).
# Defaults: the build tree of this repository (build/).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
GILRUN=${1:-$root/build/bindings/cli/gilrun}
TWIN=${2:-$(dirname "$GILRUN")/../../bench/pthread_twin}
PAIRS=${PAIRS:-5}
N=${N:-10000}
ALIVE_S=${ALIVE_S:-3}
read -r -a opts <<< "${GILRUN_OPTS:-}"

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "host $(uname -n), $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in sleepers alive; do
  secs=0.2; key=wall
  if [[ $mode == alive ]]; then secs=$ALIVE_S; key=spawn; fi
  raw=(); gil=()
  for ((i = 0; i < PAIRS; i++)); do
    raw+=("$("$TWIN" "$mode" "$N" "$secs" | field "$key")")
    gil+=("$("$GILRUN" "${opts[@]}" "$root/scripts/bench/threads.lua" "$mode" "$N" "$secs" | field "$key")")
  done
  r=$(printf '%s\n' "${raw[@]}" | median)
  g=$(printf '%s\n' "${gil[@]}" | median)
  printf '%-9s N=%d %s: pthreads %.3f s  gilrun %.3f s  ratio %.2fx  (gilrun runs: %s)\n' \
    "$mode" "$N" "$key" "$r" "$g" "$(awk -v g="$g" -v r="$r" 'BEGIN {print g / r}')" "${gil[*]}"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
