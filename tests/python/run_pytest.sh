#!/usr/bin/env bash
# Runs a pytest file with the given Python, or exits 77 (ctest: skipped) and
# says why when that Python lacks what the file needs.
#   run_pytest.sh PYTHON "module module ..." FILE [cuda]
# With "cuda", it also skips when torch sees no GPU or this build has no CUDA ops.
set -u
py=$1 needs=$2 file=$3 want_cuda=${4:-}
if [ ! -x "$py" ]; then
  echo "skipped: $py does not exist (scripts/test creates it; see tests/python/requirements.txt)"
  exit 77
fi
for m in $needs; do
  if ! out=$(cd "$(dirname "$file")" && "$py" -c "import $m" 2>&1); then
    echo "skipped: $py cannot import $m: $(echo "$out" | tail -1)"
    exit 77
  fi
done
if [ "$want_cuda" = cuda ]; then
  if ! why=$(cd "$(dirname "$file")" && "$py" -c "
import torch, w4a8, sys
if not torch.cuda.is_available(): sys.exit('torch sees no GPU')
if not w4a8.cuda_ops_available(): sys.exit('this build registered no CUDA kernels (a CPU-only torch)')
" 2>&1); then
    echo "skipped: $(echo "$why" | tail -1)"
    exit 77
  fi
fi
exec "$py" -m pytest -q -p no:cacheprovider "$file"
