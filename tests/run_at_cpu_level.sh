#!/usr/bin/env bash
# run_at_cpu_level.sh LEVEL W4A8_BIN COMMAND...: runs COMMAND with the cpu
# backend forced to kernel LEVEL (W4A8_CPU_KERNEL), so every level this CPU has
# goes through the whole suite, not only the best one. A level the CPU cannot
# run is a skip (exit 77) that names what the CPU has, never a pass.
set -uo pipefail
level=$1 cli=$2
shift 2
info=$("$cli" info) || { echo "run_at_cpu_level: '$cli info' failed"; exit 1; }
if ! grep -qE "^ +kernels:.*( |^)$level( |\()" <<<"$(grep 'kernels:' <<<"$info" | sed 's/(.*//')"; then
  echo "run_at_cpu_level: skipped, this CPU cannot run the $level kernels ($(grep -E 'features:|kernels:' <<<"$info" | tr -s ' '))"
  exit 77
fi
W4A8_CPU_KERNEL=$level "$@" || exit 1
grep -q "in use: $level)" <<<"$(W4A8_CPU_KERNEL=$level "$cli" info)" || { echo "run_at_cpu_level: $level was not in use"; exit 1; }
echo "run_at_cpu_level: passed with W4A8_CPU_KERNEL=$level"
