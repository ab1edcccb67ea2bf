#!/usr/bin/env bash
# Builds every plugin as a WebAssembly component (wasm32-wasip2) into plugins/target.
set -euo pipefail
cd "$(dirname "$0")"
rustup target add wasm32-wasip2 >/dev/null
cargo build --release --locked --target wasm32-wasip2 "$@"
