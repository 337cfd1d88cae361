#!/usr/bin/env bash
# A long run of the correctness harnesses with a seed of its own: CI replays fixed seeds (so a
# red run always means a change broke something), and a fixed seed only ever explores its own
# cases. A bug that only another seed reaches (SQLite's `{ a: 'b', c: {} }`, found 2026-12-03)
# waits for a run like this one. The seed defaults to today's date, so running it daily walks
# new cases; a failure prints the FUZZ_SEED (and FUZZ_PATH) that replays it.
#
#   bash scripts/long-harness.sh                      # FUZZ_RUNS=100, today's seed, every harness
#   FUZZ_RUNS=300 FUZZ_SEED=7 bash scripts/long-harness.sh test/harness/model-based.test.ts
#   STORE_CONFIGS=sqlite bash scripts/long-harness.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export FUZZ_RUNS="${FUZZ_RUNS:-100}"
export FUZZ_SEED="${FUZZ_SEED:-$(date -u +%Y%m%d)}"
files=("$@")
if [ ${#files[@]} -eq 0 ]; then
  files=(test/harness/model-based.test.ts test/harness/grace-model.test.ts test/harness/bad-input.test.ts
    test/harness/differential-queries.test.ts test/harness/differential-pages.test.ts)
fi
echo "long harness run: FUZZ_RUNS=$FUZZ_RUNS FUZZ_SEED=$FUZZ_SEED ${STORE_CONFIGS:+STORE_CONFIGS=$STORE_CONFIGS }${files[*]}"
bash scripts/ensure-services.sh
exec npx mocha --timeout 0 "${files[@]}"
