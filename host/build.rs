//! Builds the expression evaluator (`plugins/expr-sandbox`, a WebAssembly component) that the
//! controller embeds, so `cargo build -p flotilla` alone yields a controller that evaluates
//! Argo's `{{=…}}` expressions in its sandbox.
//!
//! The component is built by a nested `cargo build --target wasm32-wasip2` over the plugins'
//! workspace (its own lock file and target directory, shared with `plugins/build.sh`), as
//! wasmtime's own test programs are built. The wrapper variables of this build (clippy's driver,
//! host RUSTFLAGS) are not passed on: they are for the host's code.

use std::path::{Path, PathBuf};
use std::process::Command;

const CRATE: &str = "expr-sandbox";
const ARTIFACT: &str = "expr_sandbox.wasm";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir.parent().expect("host/ is in the repository");
    for input in [
        "expr/src",
        "expr/Cargo.toml",
        "plugins/expr-sandbox",
        "plugins/Cargo.toml",
        "plugins/Cargo.lock",
        "wit/flotilla-expressions@0.1.0",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(input).display());
    }
    let plugins = root.join("plugins");
    let target_dir = plugins.join("target");
    build(&plugins, &target_dir);
    let wasm = target_dir.join("wasm32-wasip2/release").join(ARTIFACT);
    assert!(wasm.is_file(), "{} was not built", wasm.display());
    println!("cargo::rustc-env=FLOTILLA_EXPR_SANDBOX={}", wasm.display());
}

fn build(plugins: &Path, target_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--release",
            "--locked",
            "--quiet",
            "--target",
            "wasm32-wasip2",
        ])
        .args(["--package", CRATE, "--manifest-path"])
        .arg(plugins.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir);
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_PROFILE_RELEASE_DEBUG",
        "CARGO_INCREMENTAL",
    ] {
        command.env_remove(variable);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {CRATE}: {e}"));
    assert!(
        status.success(),
        "building {CRATE} for wasm32-wasip2 failed ({status}); `rustup target add wasm32-wasip2` \
         installs the target if that is what is missing"
    );
}
