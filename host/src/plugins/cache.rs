//! Compiled components on disk, keyed by the component's SHA-256 and the engine's
//! compatibility hash: a restarted controller (or a plugin swapped back) skips compiling.
//! Best effort — a cache that cannot be read or written only costs a compile.
//!
//! The directory must be writable by the controller alone (the manifests use an `emptyDir`):
//! wasmtime runs what it deserializes as native code, which is why loading is `unsafe`.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A directory of compiled components.
#[derive(Debug, Clone)]
pub(super) struct DiskCache {
    dir: PathBuf,
}

impl DiskCache {
    pub(super) fn new(dir: PathBuf) -> DiskCache {
        DiskCache { dir }
    }

    fn path(&self, engine: &Engine, bytes: &[u8]) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let digest = Sha256::digest(bytes);
        self.dir
            .join(format!("{digest:x}-{:016x}.cwasm", hasher.finish()))
    }

    /// The component compiled from `bytes` by an engine like `engine`, if cached.
    pub(super) fn load(&self, engine: &Engine, bytes: &[u8]) -> Option<Component> {
        let path = self.path(engine, bytes);
        if !path.exists() {
            return None;
        }
        // SAFETY: the file was written by `store` below, into a directory only this process
        // writes (see the module's documentation), for this engine's compatibility hash;
        // wasmtime itself checks the header and refuses an incompatible artifact.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize_file(engine, &path) };
        match loaded {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring an unusable compiled component");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Keeps `component` (compiled from `bytes`); written whole or not at all.
    pub(super) fn store(&self, engine: &Engine, bytes: &[u8], component: &Component) {
        let path = self.path(engine, bytes);
        if let Err(e) = write(&self.dir, &path, component) {
            tracing::debug!(dir = %self.dir.display(), error = %e, "not caching a compiled component");
        }
    }
}

fn write(dir: &Path, path: &Path, component: &Component) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let serialized = component.serialize()?;
    // Unique per write, so concurrent writers (threads or processes) never share a file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial = path.with_extension(format!("partial-{}-{n}", std::process::id()));
    std::fs::write(&partial, serialized)?;
    std::fs::rename(&partial, path)?;
    Ok(())
}
