//! Compiled components on disk, keyed by the component's SHA-256 and the engine's
//! compatibility hash: a restarted controller (or a plugin swapped back) skips compiling.
//! Best effort — a cache that cannot be read or written only costs a compile.
//!
//! wasmtime runs what it deserializes as native code, which is why loading is `unsafe`; so the
//! cache takes nothing on trust:
//! - **The directory** is used only if it is a directory (not a symbolic link) owned by this
//!   process's user that neither its group nor others may write; a missing one is created
//!   `0700`. It is opened once, and every file is opened relative to that open directory, so
//!   replacing the path afterwards changes nothing.
//! - **Files** are opened without following symbolic links, must be regular files owned by this
//!   user, and are written `0600`, whole (a unique temporary name, then a rename).
//! - **The artifact** is verified before the one `unsafe` load: each file starts with the
//!   SHA-256 of its key and the serialized artifact; the file is read into memory, the digest
//!   checked, and only those checked bytes are deserialized. A truncated or corrupted file, or
//!   another component's artifact under this key, is refused and removed.
//!
//! The digest is not a signature: whoever may write the directory may write a matching digest.
//! What keeps others out is the directory's ownership and mode, checked above.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// What every cache file starts with (then the digest, then the artifact).
const MAGIC: &[u8] = b"flotilla-cwasm-1\n";
/// The length of a SHA-256 digest.
const DIGEST_LEN: usize = 32;

/// Why a cache directory is not used.
#[derive(Debug, thiserror::Error)]
#[error("plugin cache directory {}: {problem}", dir.display())]
pub struct CacheDirError {
    pub dir: PathBuf,
    pub problem: DirProblem,
}

/// What is wrong with a cache directory.
#[derive(Debug, thiserror::Error)]
pub enum DirProblem {
    #[error("is a symbolic link; name the directory itself")]
    Symlink,
    #[error("is not a directory")]
    NotADirectory,
    #[error("is owned by uid {owner}, not by this process's uid {uid}")]
    NotOwned { owner: u32, uid: u32 },
    #[error("has mode {mode:04o}: its group or others may write to it")]
    Writable { mode: u32 },
    #[error("cannot be created or opened: {0}")]
    Io(#[from] std::io::Error),
}

/// A checked directory of compiled components.
#[derive(Debug, Clone)]
pub(super) struct DiskCache {
    /// For messages only: every access goes through `fd`.
    dir: PathBuf,
    fd: Arc<OwnedFd>,
}

impl DiskCache {
    /// The cache in `dir`, created `0700` if missing, if it is safe to use (see the module's
    /// documentation).
    pub(super) fn open(dir: &Path) -> Result<DiskCache, CacheDirError> {
        let fail = |problem| CacheDirError {
            dir: dir.to_path_buf(),
            problem,
        };
        create(dir).map_err(|e| fail(DirProblem::Io(e)))?;
        if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(fail(DirProblem::Symlink));
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = rustix::fs::open(dir, flags, Mode::empty()).map_err(|e| {
            fail(match e {
                // Replaced by a link since the check above.
                Errno::LOOP => DirProblem::Symlink,
                Errno::NOTDIR => DirProblem::NotADirectory,
                e => DirProblem::Io(e.into()),
            })
        })?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| fail(DirProblem::Io(e.into())))?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
            return Err(fail(DirProblem::NotADirectory));
        }
        let uid = rustix::process::geteuid().as_raw();
        if stat.st_uid != uid {
            return Err(fail(DirProblem::NotOwned {
                owner: stat.st_uid,
                uid,
            }));
        }
        let mode = stat.st_mode & 0o7777;
        if mode & 0o022 != 0 {
            return Err(fail(DirProblem::Writable { mode }));
        }
        Ok(DiskCache {
            dir: dir.to_path_buf(),
            fd: Arc::new(fd),
        })
    }

    /// The component compiled from `bytes` by an engine like `engine`, if cached and intact.
    pub(super) fn load(&self, engine: &Engine, bytes: &[u8]) -> Option<Component> {
        let key = key(engine, bytes);
        let name = file_name(&key);
        let contents = match self.read(&name) {
            Ok(Some(contents)) => contents,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), file = %name, error = %e, "ignoring an unreadable compiled component");
                return None;
            }
        };
        let Some(artifact) = verified(&key, &contents) else {
            tracing::warn!(dir = %self.dir.display(), file = %name, "ignoring a compiled component that fails its digest check");
            self.remove(&name);
            return None;
        };
        // SAFETY: `artifact` is in memory, so it cannot change between the check and the use;
        // it is what `store` below serialized for this key (same component digest, same engine
        // compatibility hash), as its SHA-256 proves; the file was read through a directory
        // that only this user may write, without following links, and had to be a regular file
        // owned by this user (see the module's documentation). wasmtime itself checks the
        // artifact's header and refuses one from an incompatible engine.
        #[allow(unsafe_code)]
        let loaded = unsafe { Component::deserialize(engine, artifact) };
        match loaded {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), file = %name, error = %e, "ignoring an unusable compiled component");
                self.remove(&name);
                None
            }
        }
    }

    /// Keeps `component` (compiled from `bytes`); written whole or not at all.
    pub(super) fn store(&self, engine: &Engine, bytes: &[u8], component: &Component) {
        let key = key(engine, bytes);
        let written = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|artifact| self.write(&key, &artifact));
        if let Err(e) = written {
            tracing::debug!(dir = %self.dir.display(), error = %e, "not caching a compiled component");
        }
    }

    /// The contents of the file `name`, or `None` when there is none.
    fn read(&self, name: &str) -> std::io::Result<Option<Vec<u8>>> {
        // Non-blocking: a FIFO put here must not hang the open.
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK;
        let fd = match rustix::fs::openat(&*self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(Errno::LOOP) => {
                self.remove(name);
                return Err(std::io::Error::other("it is a symbolic link"));
            }
            Err(e) => return Err(e.into()),
        };
        let stat = rustix::fs::fstat(&fd)?;
        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
            return Err(std::io::Error::other("it is not a regular file"));
        }
        let uid = rustix::process::geteuid().as_raw();
        if stat.st_uid != uid {
            return Err(std::io::Error::other(format!(
                "it is owned by uid {}, not by this process's uid {uid}",
                stat.st_uid
            )));
        }
        let mut contents = Vec::with_capacity(usize::try_from(stat.st_size).unwrap_or(0));
        File::from(fd).read_to_end(&mut contents)?;
        Ok(Some(contents))
    }

    fn write(&self, key: &str, artifact: &[u8]) -> std::io::Result<()> {
        // Unique per write, so concurrent writers (threads or processes) never share a file.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = file_name(key);
        let partial = format!("{name}.partial-{}-{n}", std::process::id());
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
        let fd = rustix::fs::openat(
            &*self.fd,
            &partial,
            flags | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )?;
        let mut file = File::from(fd);
        let written = file
            .write_all(MAGIC)
            .and_then(|()| file.write_all(&digest(key, artifact)))
            .and_then(|()| file.write_all(artifact))
            .and_then(|()| Ok(rustix::fs::renameat(&*self.fd, &partial, &*self.fd, &name)?));
        if written.is_err() {
            self.remove(&partial);
        }
        written
    }

    fn remove(&self, name: &str) {
        let _ = rustix::fs::unlinkat(&*self.fd, name, rustix::fs::AtFlags::empty());
    }
}

/// Creates `dir` (its parents as usual, itself `0700`) if it does not exist.
fn create(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// What a compiled component is cached under: the component's SHA-256 and the engine's
/// compatibility hash.
fn key(engine: &Engine, bytes: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:x}-{:016x}", Sha256::digest(bytes), hasher.finish())
}

fn file_name(key: &str) -> String {
    format!("{key}.cwasm")
}

/// The digest a cache file carries: of its key and the artifact, so an intact artifact filed
/// under another key fails too.
fn digest(key: &str, artifact: &[u8]) -> [u8; DIGEST_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(key.as_bytes());
    hasher.update([0]);
    hasher.update(artifact);
    hasher.finalize().into()
}

/// The artifact in `contents`, if its digest is right for `key`.
fn verified<'a>(key: &str, contents: &'a [u8]) -> Option<&'a [u8]> {
    let rest = contents.strip_prefix(MAGIC)?;
    let (recorded, artifact) = rest.split_at_checked(DIGEST_LEN)?;
    (recorded == digest(key, artifact).as_slice()).then_some(artifact)
}

#[cfg(test)]
mod tests;
