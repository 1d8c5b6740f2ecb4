#!/usr/bin/env bash
# Builds everything and runs the whole test suite (unit tests and corpus conformance).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
cd build
# ctest lists the tests when it runs (the corpus cases come from ../shared): drop any older list.
rm -f kerasrt_tests*_tests.cmake
ctest --output-on-failure -j2 "$@"
