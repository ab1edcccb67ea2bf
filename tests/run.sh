#!/usr/bin/env bash
# Every check and test Flotilla has — what CI runs (.ci/run calls this).
# Installs what it needs: the pinned Rust toolchain and the wasm32-wasip2 target
# (from rust-toolchain.toml). kubectl (≥ 1.24) must be on PATH: the end-to-end
# suite drives the clusters with the real kubectl and fails without it.
set -euo pipefail
cd "$(dirname "$0")/.."
# One full build, not an edit loop: incremental caches would only add gigabytes to the disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

rustup toolchain install            # the toolchain rust-toolchain.toml pins, with its targets
rustup target add wasm32-wasip2
if ! command -v kubectl >/dev/null 2>&1; then
  echo "error: kubectl is not on PATH; the end-to-end suite needs it (kubectl 1.24 or later)" >&2
  exit 1
fi

cargo fmt --all -- --check
cargo fmt --manifest-path plugins/Cargo.toml --all -- --check
# The WebAssembly plugins (their own workspace, built for wasm32-wasip2): the host's tests load them.
bash plugins/build.sh
cargo clippy --manifest-path plugins/Cargo.toml --target wasm32-wasip2 --locked -- -D warnings
log=$(mktemp)
shared=$(mktemp -d)
# Background processes (the shared-cluster run below) end with the script, pass or fail.
trap 'kill $(jobs -p) 2>/dev/null || true; wait; rm -rf "$log" "$shared"' EXIT
# The plugins' own unit tests (SigV4 test vectors, selectors, …), natively.
cargo test --manifest-path plugins/Cargo.toml --workspace --locked 2>&1 | tee "$log"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The image's build (host/Dockerfile): no `dev` feature, so no simulator in what pods receive.
cargo clippy -p flotilla --no-default-features --locked -- -D warnings
# What each crate may not depend on, read from `cargo tree` (normal dependencies). The tree is
# read whole first: `grep -q` quitting early would end cargo with SIGPIPE, and under pipefail
# the check would pass when it should fail.
forbid() {
  local what=$1 crates=$2
  shift 2
  local tree
  tree=$(cargo tree "$@" -e normal --prefix none --locked)
  for crate in $crates; do
    if grep -q "^$crate v" <<<"$tree"; then
      echo "error: $what depends on $crate (cargo tree $*)" >&2
      exit 1
    fi
  done
}
forbid "the engine" "kube-client tokio hyper wasmtime casbin flotilla-sim" -p flotilla-engine
forbid "the executor pods receive" "wasmtime casbin flotilla-sim flotilla" -p flotilla-executor
forbid "the image's flotilla (--no-default-features)" "flotilla-sim" -p flotilla --no-default-features
cargo test --workspace --locked 2>&1 | tee -a "$log"
# The end-to-end suite again, as it runs against real clusters (FLOTILLA_E2E_KUBECONFIG): two
# control planes served by `flotilla sim serve --no-kubelet` in a process of their own, each with
# its only kubelet in another (`flotilla sim kubelet`), so `kubectl logs` reaches the kubelet API
# its Node registers. The tests take turns on the shared clusters and clean up after themselves.
cargo build -p flotilla --locked
target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
flotilla="$target_dir/debug/flotilla"
"$flotilla" sim serve --clusters 2 --no-kubelet --kubeconfig "$shared/kubeconfig" >"$shared/serve.log" 2>&1 &
for _ in $(seq 120); do
  grep -q "serving until" "$shared/serve.log" && break
  sleep 0.5
done
if ! grep -q "serving until" "$shared/serve.log"; then
  cat "$shared/serve.log" >&2
  echo "error: flotilla sim serve did not start" >&2
  exit 1
fi
for cluster in cluster-0 cluster-1; do
  # Each kubelet admits only its API server, by the client certificate the cluster's CA signed.
  kubectl --kubeconfig "$shared/kubeconfig" config view --raw -o \
    "jsonpath={.clusters[?(@.name==\"$cluster\")].cluster.certificate-authority-data}" |
    base64 -d >"$shared/$cluster-ca.pem"
  "$flotilla" sim kubelet --kubeconfig "$shared/kubeconfig" --context "$cluster" \
    --node-name "$cluster-node" --port 0 --client-ca-file "$shared/$cluster-ca.pem" \
    >"$shared/$cluster-kubelet.log" 2>&1 &
done
for cluster in cluster-0 cluster-1; do
  # A kubelet that could not start would leave every pod Pending: say so now, not test by test.
  node=(kubectl --kubeconfig "$shared/kubeconfig" --context "$cluster")
  for _ in $(seq 120); do
    "${node[@]}" get "node/$cluster-node" >/dev/null 2>&1 && break
    sleep 0.5
  done
  if ! "${node[@]}" wait --for=condition=Ready "node/$cluster-node" --timeout=60s; then
    cat "$shared/$cluster-kubelet.log" >&2
    echo "error: the simulated kubelet of $cluster did not become Ready" >&2
    exit 1
  fi
done
FLOTILLA_E2E_KUBECONFIG="$shared/kubeconfig" cargo test -p flotilla-e2e --locked 2>&1 | tee -a "$log"
# One closing line for the whole run (cargo prints one per test binary, the last often a doc-test
# binary with nothing in it).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
