#!/usr/bin/env bash
# lua_testes.sh GILRUN VARIANT — runs Lua 5.4.4's own test suite
# (tests/lua-5.4.4-tests, unmodified, MIT licence: see its all.lua) with
# gilrun, as `lua5.4 -e"_U=true" all.lua` runs it, and passes only if it
# prints "final OK !!!". The suite writes files next to itself and builds C
# modules in libs/, so it runs in a fresh temporary copy.
#
# VARIANT:
#   plain      the suite alone
#   main       main.lua on its own without _U (the stand-alone interpreter's
#              command line, which all.lua skips under _U)
#   interval   while a daemon thread spins for the whole run, 50 us interval
#   ticks      the same under --gil=ticks --check-interval=10
#   fifo       the same under --gil=fifo --switch-interval=100us
#   priority   the same under --gil=priority --switch-interval=100us
# The spinning variants test that asynchronous preemption is safe at every
# instruction the suite reaches (GC steps, stack reallocation, errors in
# error handling, __close, coroutines, hooks, C modules).
set -euo pipefail
gilrun=$(realpath "$1")
variant=$2
source_dir=$(cd "$(dirname "$0")" && pwd)/lua-5.4.4-tests
work=$(mktemp -d "${TMPDIR:-/tmp}/gilrun-testes.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$source_dir/." "$work"
cd "$work"
make -s -C libs LUA_DIR=/usr/include/lua5.4 >/dev/null

spin="require'thread'.spawn{function() local x=0 while true do x=x+1 end end, daemon=true}"
case "$variant" in
  plain) args=(-e"_U=true" all.lua) ;;
  main) args=(main.lua) ;;
  interval) args=(--switch-interval=50us -e"_U=true; $spin" all.lua) ;;
  ticks) args=(--gil=ticks --check-interval=10 -e"_U=true; $spin" all.lua) ;;
  fifo) args=(--gil=fifo --switch-interval=100us -e"_U=true; $spin" all.lua) ;;
  priority) args=(--gil=priority --switch-interval=100us -e"_U=true; $spin" all.lua) ;;
  *) echo "lua_testes.sh: unknown variant '$variant'" >&2; exit 2 ;;
esac

start=$(date +%s%N)
status=0
"$gilrun" "${args[@]}" >output.txt 2>&1 </dev/null || status=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
elapsed="$((elapsed_ms / 1000)).$(printf %03d $((elapsed_ms % 1000)))"
if [ "$variant" = main ]; then
  passed() { [ "$(tail -n 1 output.txt)" = "OK" ]; }  # main.lua's last line
else
  passed() { grep -qxF "final OK !!!" output.txt; }
fi
if [ $status -ne 0 ] || ! passed; then
  echo "Lua test suite ($variant): FAILED (exit status $status, ${elapsed}s); its output:"
  tail -n 40 output.txt
  exit 1
fi
echo "Lua test suite ($variant): passed in ${elapsed}s"
