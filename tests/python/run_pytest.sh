#!/usr/bin/env bash
# Runs a pytest file with the given Python, or exits 77 (ctest: skipped) and
# says why when that Python lacks what the file needs.
#   run_pytest.sh PYTHON "module module ..." FILE
set -u
py=$1 needs=$2 file=$3
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
exec "$py" -m pytest -q -p no:cacheprovider "$file"
