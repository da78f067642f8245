#!/usr/bin/env bash
# The committed notebook outputs must compare equal on any CPU: run the whole suite (`make test`)
# from a fresh clone of HEAD twice on this machine, from empty caches each time:
#   1. with torch, oneDNN and MKL held to AVX2 kernels, on one thread (an AVX2-only laptop), one
#      pytest worker per core (make test's default);
#   2. with the CPU's own kernels and torch's default thread count, in one process (TEST_JOBS=0).
# Usage: tests/check_portable.sh [extra pytest arguments]      (or: make check-portable)
# Exit status: 0 when both runs pass. Logs: $WORK/avx2.log and $WORK/native.log (printed at the end).
set -euo pipefail
repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
WORK=${WORK:-$(mktemp -d -t tender-portable-XXXXXX)}
if ! git -C "$repo" diff --quiet HEAD -- tenderlib tests notebooks pyproject.toml Makefile; then
  echo "check_portable: uncommitted changes in $repo are NOT checked (the clone is of HEAD)" >&2
fi
git clone -q "$repo" "$WORK/clone"
cd "$WORK/clone"
status=0
run() {  # name, then environment assignments
  local name=$1; shift
  git clean -q -xfd -e .venv   # empty caches: outputs/, stores, text features, checkpoints
  echo "check_portable: $name run ($*) -> $WORK/$name.log" >&2
  local t0=$SECONDS
  if env "$@" make test PYTEST_ARGS="-q -p no:cacheprovider ${PYTEST_EXTRA:-}" </dev/null >"$WORK/$name.log" 2>&1; then
    echo "check_portable: $name passed in $((SECONDS - t0)) s: $(grep -E '[0-9]+ passed' "$WORK/$name.log" | tail -1)" >&2
  else
    status=1
    echo "check_portable: $name FAILED in $((SECONDS - t0)) s: $(grep -E 'passed|failed' "$WORK/$name.log" | tail -1)" >&2
    grep -E '^FAILED' "$WORK/$name.log" >&2 || true
  fi
}
PYTEST_EXTRA="$*"
run avx2 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2 OMP_NUM_THREADS=1 CI=true
run native CI=true TEST_JOBS=0
echo "check_portable: logs in $WORK" >&2
exit $status
