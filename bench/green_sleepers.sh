#!/usr/bin/env bash
# green_sleepers.sh — 100K and 1M green sleepers (200 ms each): the 1M/100K
# wall-time ratio (linear is 10x) and KiB per green thread (RSS + page tables).
#
#   bench/green_sleepers.sh [path/to/gilrun] [path/to/baseline-gilrun]
#
# RUNS (default 5) runs of each size, interleaved (100K, 1M, 100K, ...) so
# drifting load hits both alike; medians are printed. With a second binary
# (e.g. a build of the previous commit) each of its runs is interleaved with
# the first's and both are printed, with the ratios between them. Needs ~6 GB
# of free memory for the 1M runs. CPU time (user + sys, from /usr/bin/time)
# is printed beside the wall time: on a shared machine it is the steadier one. Also prints `uptime` before and after: take
# figures at a load average above the core count as indicative only.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
GILRUN=${1:-$root/build/bindings/cli/gilrun}
BASE=${2:-}
RUNS=${RUNS:-5}
SMALL=${SMALL:-100000}
BIG=${BIG:-1000000}
script=$root/scripts/bench/green_sleepers.lua

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }

declare -A out
binaries=(gilrun)
[[ -n $BASE ]] && binaries+=(base)
echo "load before: $(uptime)"
for ((r = 1; r <= RUNS; r++)); do
  for who in "${binaries[@]}"; do
    bin=$GILRUN; [[ $who == base ]] && bin=$BASE
    for n in $SMALL $BIG; do
      line=$(/usr/bin/time -f 'cpu %U %S' "$bin" "$script" "$n" 2>&1)
      line=${line%$'\n'*}" cpu=$(awk '{print $2 + $3}' <<<"${line##*$'\n'}")"
      out[$who.$n]+="$line"$'\n'
    done
  done
done
echo "load after:  $(uptime)"

for who in "${binaries[@]}"; do
  bin=$GILRUN; [[ $who == base ]] && bin=$BASE
  small=$(field wall <<<"${out[$who.$SMALL]}" | median)
  big=$(field wall <<<"${out[$who.$BIG]}" | median)
  rss=$(field rss_kib <<<"${out[$who.$BIG]}" | median)
  pte=$(field pte_kib <<<"${out[$who.$BIG]}" | median)
  walls_big=$(field wall <<<"${out[$who.$BIG]}" | tr '\n' ' ')
  cpu_small=$(field cpu <<<"${out[$who.$SMALL]}" | median)
  cpu_big=$(field cpu <<<"${out[$who.$BIG]}" | median)
  printf '%-6s %s\n' "$who" "$bin"
  printf '  %d: %.3f s   %d: %.3f s (%s)  ratio %.1fx (linear: %dx)\n' \
    "$SMALL" "$small" "$BIG" "$big" "$walls_big" "$(echo "$big / $small" | bc -l)" $((BIG / SMALL))
  printf '  CPU (user+sys): %.2f s and %.2f s, ratio %.1fx (wall on a loaded machine waits for a core too)\n' \
    "$cpu_small" "$cpu_big" "$(echo "$cpu_big / $cpu_small" | bc -l)"
  printf '  per green thread at %d alive: RSS %.2f KiB + page tables %.2f KiB = %.2f KiB\n' \
    "$BIG" "$rss" "$pte" "$(echo "$rss + $pte" | bc -l)"
  eval "wall_$who=$big"
done
if [[ -n $BASE ]]; then
  printf 'gilrun / base, %d sleepers: %.2fx wall\n' "$BIG" "$(echo "$wall_gilrun / $wall_base" | bc -l)"
fi
