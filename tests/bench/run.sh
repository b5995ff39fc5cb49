#!/usr/bin/env bash
# tests/bench/run.sh - the interpreter against QEMU TCG on the CPU-bound
# guests: `vmlab bench` (docs/bench.md) limited to interp and qemu-tcg and
# to cpubench and bench=cpu. Extra arguments go to vmlab bench.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec "${VMLAB:-build/vmlab}" bench --techniques interp,qemu-tcg --benchmarks cpubench,cpu "$@"
