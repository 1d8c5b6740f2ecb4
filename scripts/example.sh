#!/usr/bin/env bash
# The main job on the bundled example: load examples/digits_cnn.keras, print its summary, run it on
# the 297 held-out digits and show predictions next to the true labels.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/build.sh
./build/kerasrt example --dir examples
