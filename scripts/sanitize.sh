#!/usr/bin/env bash
# The sanitizer stage: builds everything with clang under AddressSanitizer and UndefinedBehaviorSanitizer
# (with the libFuzzer targets of fuzz/), runs the unit tests under them, then each fuzz target for
# FUZZ_SECONDS (default 30) on seeds taken from ../shared, and the concurrency tests under
# ThreadSanitizer. A longer fuzzing run: FUZZ_SECONDS=3600 scripts/sanitize.sh; CI runs FUZZ_RUNS=4000 (fixed seed).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
SHARED=${KERASRT_SHARED:-../shared}
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DKERASRT_FUZZ=ON >/dev/null
cmake --build build-asan -j2
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
(cd build-asan && ctest -j2 --output-on-failure)

# Seeds: small files of each kind from the shared corpus (never copied into the repository).
seeds=build-asan/seeds
rm -rf "$seeds" && mkdir -p "$seeds"/{hdf5,keras,json,npz}
small() { find "$@" -maxdepth 1 -size -200k 2>/dev/null | sort | head -400; }
for f in $(small "$SHARED"/keras-corpus/*.weights.h5 "$SHARED"/keras-corpus/*[^s].h5); do cp "$f" "$seeds/hdf5/"; done
for f in $(small "$SHARED"/keras-corpus/*.keras); do cp "$f" "$seeds/keras/"; done
for f in $(small "$SHARED"/keras-corpus/*.config.json); do cp "$f" "$seeds/json/"; done
for f in $(small "$SHARED"/keras-corpus/*.inputs.npz); do cp "$f" "$seeds/npz/"; done
export KERASRT_FUZZ_WEIGHTS="$SHARED/keras-corpus/dense_act_elu.weights.h5"
# With FUZZ_RUNS set (CI), each target runs that many inputs from a fixed seed: the same inputs every
# time, so the stage only fails on a real finding. Otherwise FUZZ_SECONDS of fresh random search.
run() {  # target, seeds, dictionary
  local budget=(-max_total_time="$FUZZ_SECONDS")
  [ -n "${FUZZ_RUNS:-}" ] && budget=(-seed=1 -runs="$FUZZ_RUNS" -max_total_time=$((4 * FUZZ_SECONDS)))
  local out="build-asan/fuzz-work/$1"
  rm -rf "$out" && mkdir -p "$out/corpus"
  echo "fuzz: $1 ${budget[*]}"
  "build-asan/fuzz/$1" "${budget[@]}" -rss_limit_mb=1500 -timeout=10 -print_final_stats=1 -artifact_prefix="$out/" \
    -dict="fuzz/$3" "$out/corpus" "$seeds/$2" 2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY" || true
  if compgen -G "$out/crash-*" >/dev/null || compgen -G "$out/leak-*" >/dev/null || compgen -G "$out/oom-*" >/dev/null ||
     compgen -G "$out/timeout-*" >/dev/null; then
    echo "fuzz: $1 found a failing input in $out: fix it and add it to tests/regressions"
    exit 1
  fi
}
run fuzz_hdf5 hdf5 hdf5.dict
run fuzz_npz npz npz.dict
run fuzz_config_json json keras.dict
run fuzz_keras_archive keras keras.dict
run fuzz_predict keras keras.dict

# Loads and predicts from many threads at once under ThreadSanitizer.
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
cmake --build build-tsan -j2 --target kerasrt_concurrency_tests
# TZ set: glibc's tzset then keeps its saved string, so TSan sees no (false) race to symbolize; its
# symbolizer's pipes would otherwise show up in the test's descriptor-leak check.
TZ=UTC TSAN_OPTIONS="halt_on_error=1 suppressions=$PWD/tests/tsan.supp" build-tsan/kerasrt_concurrency_tests
