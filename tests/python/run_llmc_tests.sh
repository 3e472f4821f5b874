#!/usr/bin/env bash
# The tests that need transformers on torch 2.x (ctest labels llmcompressor
# and accuracy): the environment of scripts/llmc-env, this repository
# installed into it (`pip install --no-build-isolation .`, CPU-only, against
# that environment's torch), then the pytest FILE of tests/python/ (for the
# accuracy test, the model that scripts/fetch-minilm fetches). Exit 77
# (skipped) with the reason where PyPI cannot give them.
#   run_llmc_tests.sh W4A8_CLI FILE [pytest args...]
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
cli=$1 file=$2; shift 2
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
if [ "$file" = test_accuracy_minilm.py ] && [ -z "${W4A8_MINILM:-}" ]; then
  model=$(bash "$root/scripts/fetch-minilm")
  rc=$?
  [ $rc -eq 77 ] && { echo "skipped: $model"; exit 77; }
  [ $rc -ne 0 ] && { echo "$model"; exit 1; }
  export W4A8_MINILM=$(echo "$model" | tail -1)
fi
cd "$root/tests/python"
W4A8_CLI=$cli exec "$py" -m pytest -q -p no:cacheprovider "$file" "$@"
