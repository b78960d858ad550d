#!/usr/bin/env bash
# Builds and runs the kvforge demo, examples/demo.cpp:  tools/demo.sh [arguments for the demo]
# The demo runs in build/demo/run, so any store files it creates stay out of the source tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash tools/install-deps.sh g++ cmake ninja-build
cmake -S . -B build/demo -G Ninja --log-level=WARNING -DCMAKE_BUILD_TYPE=Release \
    -DKVFORGE_BUILD_TESTS=OFF -DKVFORGE_BUILD_BENCH=OFF -DKVFORGE_BUILD_EXAMPLES=ON -DKVFORGE_INSTALL=OFF
cmake --build build/demo --target kvforge_example_demo -j2
mkdir -p build/demo/run
cd build/demo/run
echo
exec ../examples/demo "$@"
