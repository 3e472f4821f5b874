#!/usr/bin/env bash
# The llm-compressor tests (ctest label llmcompressor): the environment of
# scripts/llmc-env, this repository installed into it (`pip install
# --no-build-isolation .`, CPU-only, against that environment's torch), then
# tests/python/test_llmcompressor.py. Exit 77 (skipped) with the reason where
# PyPI cannot give the environment.
#   run_llmc_tests.sh W4A8_CLI [pytest args...]
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
cli=$1; shift
out=$(bash "$root/scripts/llmc-env")
rc=$?
echo "$out" | head -n -1
if [ $rc -ne 0 ]; then
  echo "skipped: the llm-compressor environment could not be made: $(echo "$out" | tail -1)"
  exit 77
fi
py=$(echo "$out" | tail -1)
echo "run_llmc_tests: pip install $root (CPU-only)"
if ! "$py" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation "$root" \
     --config-settings=cmake.define.W4A8_CUDA=OFF --config-settings=build-dir="$root/build/wheel-llmc" \
     >"$root/build/llmc-pip-install.log" 2>&1; then
  tail -30 "$root/build/llmc-pip-install.log"
  echo "run_llmc_tests: pip install . failed (log: build/llmc-pip-install.log)"
  exit 1
fi
cd "$root/tests/python"
W4A8_CLI=$cli exec "$py" -m pytest -q -p no:cacheprovider test_llmcompressor.py "$@"
