#!/usr/bin/env bash
# The vLLM tests (ctest label vllm): the environment of scripts/vllm-env, this
# repository installed into it as a user would (`pip install
# --no-build-isolation .`, CPU-only here, so it builds in ~2 minutes on two
# cores), then tests/python/test_vllm.py. Exit 77 (skipped) with the reason
# where PyPI cannot give the environment.
#   run_vllm_tests.sh W4A8_CLI [pytest args...]
set -u
root="$(cd "$(dirname "$0")/../.." && pwd)"
cli=$1; shift
out=$(bash "$root/scripts/vllm-env")
rc=$?
echo "$out" | head -n -1
if [ $rc -ne 0 ]; then
  echo "skipped: the vLLM environment could not be made: $(echo "$out" | tail -1)"
  exit 77
fi
py=$(echo "$out" | tail -1)
echo "run_vllm_tests: pip install $root (CPU-only)"
if ! "$py" -m pip install -q --disable-pip-version-check --no-deps "$root" \
     --config-settings=cmake.define.W4A8_CUDA=OFF --config-settings=build-dir="$root/build/wheel-vllm" \
     >"$root/build/vllm-pip-install.log" 2>&1; then
  tail -30 "$root/build/vllm-pip-install.log"
  echo "run_vllm_tests: pip install . failed (log: build/vllm-pip-install.log)"
  exit 1
fi
cd "$root/tests/python"
W4A8_CLI=$cli exec "$py" -m pytest -q -p no:cacheprovider test_vllm.py "$@"
