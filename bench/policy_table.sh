#!/usr/bin/env bash
# policy_table.sh — the GIL policy comparison table in the README: for each
# policy, two CPU-bound threads vs the same work sequentially (median of
# --repeat runs of scripts/thrash.lua), and the convoy: I/O round trips/s with
# one CPU-bound thread vs alone, and that CPU thread's speed vs alone
# (scripts/convoy.lua).
#
# usage: bench/policy_table.sh [gilrun binary] [repeat, default 3]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
gilrun=${1:-$here/build/bindings/cli/gilrun}
repeat=${2:-3}
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1); $(date -u +%F)"
echo
echo "| policy | 2 CPU threads vs sequential | convoy: I/O with 1 CPU thread vs alone | that CPU thread vs alone |"
echo "|---|---|---|---|"
for policy in interval ticks fifo priority isolated; do
  ratios=() ios=() cpus=()
  for _ in $(seq "$repeat"); do
    ratios+=("$("$gilrun" --gil="$policy" "$here/scripts/thrash.lua" 34 |
                sed -n 's/.*(\([0-9.]*\)x sequential).*/\1/p')")
    if [ "$policy" != isolated ]; then  # isolated threads share no pipe
      row=$("$gilrun" --gil="$policy" "$here/scripts/convoy.lua" 1 | awk '$1 == 1')
      ios+=("$(echo "$row" | awk '{print $3}' | tr -d '%')")
      cpus+=("$(echo "$row" | awk '{print $(NF-2)}' | tr -d '%')")
    fi
  done
  ratio=$(printf '%s\n' "${ratios[@]}" | median)
  if [ "$policy" = isolated ]; then
    echo "| $policy | ${ratio}x | - | - |"
  else
    echo "| $policy | ${ratio}x | $(printf '%s\n' "${ios[@]}" | median)% | $(printf '%s\n' "${cpus[@]}" | median)% |"
  fi
done
