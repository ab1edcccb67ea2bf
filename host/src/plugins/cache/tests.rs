use std::os::unix::fs::PermissionsExt;

use super::*;

/// A fresh directory under the system's temporary one, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "flotilla-cache-test-{}-{n}-{name}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777
}

/// Two different components and an engine.
fn components() -> (Engine, Vec<u8>, Vec<u8>) {
    let engine = Engine::default();
    // WebAssembly text: wasmtime compiles it as it would the binary.
    let a = b"(component (core module (func (export \"a\"))))".to_vec();
    let b = b"(component (core module (func (export \"b\"))))".to_vec();
    (engine, a, b)
}

/// `bytes` compiled and stored in `cache`; the file it went to.
fn stored(cache: &DiskCache, engine: &Engine, bytes: &[u8]) -> PathBuf {
    let component = Component::new(engine, bytes).expect("compile");
    cache.store(engine, bytes, &component);
    cache.dir.join(file_name(&key(engine, bytes)))
}

#[test]
fn a_missing_directory_is_created_private() {
    let scratch = Scratch::new("create");
    let dir = scratch.0.join("nested/plugins");
    DiskCache::open(&dir).expect("usable");
    assert_eq!(mode(&dir), 0o700);
}

#[test]
fn a_directory_others_may_write_is_refused_and_named() {
    let scratch = Scratch::new("writable");
    for loose in [0o777, 0o770, 0o1777] {
        std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(loose))
            .expect("chmod");
        let err = DiskCache::open(&scratch.0).expect_err("refused");
        assert!(
            matches!(err.problem, DirProblem::Writable { mode } if mode == loose),
            "{err}"
        );
        let message = err.to_string();
        assert!(
            message.contains(&scratch.0.display().to_string())
                && message.contains("others may write"),
            "{message}"
        );
    }
    std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    DiskCache::open(&scratch.0).expect("not writable by others: usable");
}

#[test]
fn a_symbolic_link_to_a_directory_is_refused() {
    let scratch = Scratch::new("link");
    let real = scratch.0.join("real");
    DiskCache::open(&real).expect("usable");
    let link = scratch.0.join("link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let err = DiskCache::open(&link).expect_err("refused");
    assert!(matches!(err.problem, DirProblem::Symlink), "{err}");
}

/// A directory (or file) of another user's: as root, one given away to `nobody`; otherwise
/// the root directory.
fn of_another_user(scratch: &Scratch, name: &str) -> Option<PathBuf> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let path = scratch.0.join(name);
    std::os::unix::fs::chown(&path, Some(NOBODY), None).expect("chown");
    Some(path)
}

const NOBODY: u32 = 65534;

#[test]
fn a_directory_of_another_user_is_refused() {
    let scratch = Scratch::new("owner");
    std::fs::create_dir(scratch.0.join("theirs")).expect("mkdir");
    let (dir, owner) = match of_another_user(&scratch, "theirs") {
        Some(dir) => (dir, NOBODY),
        None => (PathBuf::from("/"), 0),
    };
    let err = DiskCache::open(&dir).expect_err("refused");
    assert!(
        matches!(err.problem, DirProblem::NotOwned { owner: o, .. } if o == owner),
        "{err}"
    );
}

#[test]
fn a_file_of_another_user_is_refused() {
    let scratch = Scratch::new("file-owner");
    let cache = DiskCache::open(&scratch.0).expect("usable");
    let (engine, a, _) = components();
    let file = stored(&cache, &engine, &a);
    let name = file
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    if of_another_user(&scratch, &name).is_none() {
        // Only root can give a file away; the directory's own check covers the rest.
        return;
    }
    assert!(cache.load(&engine, &a).is_none());
}

#[test]
fn files_are_written_private_and_loaded_back() {
    let scratch = Scratch::new("roundtrip");
    let cache = DiskCache::open(&scratch.0).expect("usable");
    let (engine, a, _) = components();
    let file = stored(&cache, &engine, &a);
    assert_eq!(mode(&file), 0o600);
    assert!(std::fs::read(&file).expect("read").starts_with(MAGIC));
    assert!(cache.load(&engine, &a).is_some());
    // Nothing else was left behind.
    let entries = std::fs::read_dir(&scratch.0).expect("list").count();
    assert_eq!(entries, 1);
}

#[test]
fn a_corrupted_artifact_is_refused_and_removed() {
    let scratch = Scratch::new("corrupt");
    let cache = DiskCache::open(&scratch.0).expect("usable");
    let (engine, a, _) = components();
    let file = stored(&cache, &engine, &a);
    let mut contents = std::fs::read(&file).expect("read");
    let last = contents.len() - 1;
    contents[last] ^= 0xff;
    std::fs::write(&file, &contents).expect("write");
    assert!(cache.load(&engine, &a).is_none());
    assert!(!file.exists(), "removed");
    // Truncated, too.
    let file = stored(&cache, &engine, &a);
    let contents = std::fs::read(&file).expect("read");
    std::fs::write(&file, &contents[..contents.len() / 2]).expect("write");
    assert!(cache.load(&engine, &a).is_none());
}

#[test]
fn another_components_artifact_under_this_key_is_refused() {
    let scratch = Scratch::new("swapped");
    let cache = DiskCache::open(&scratch.0).expect("usable");
    let (engine, a, b) = components();
    let file_a = stored(&cache, &engine, &a);
    let file_b = stored(&cache, &engine, &b);
    // An intact artifact, but of `b`: loading `a` must not run `b`'s code.
    std::fs::copy(&file_b, &file_a).expect("copy");
    assert!(cache.load(&engine, &a).is_none());
    assert!(cache.load(&engine, &b).is_some());
}

#[test]
fn a_symbolic_link_in_the_directory_is_not_followed() {
    let scratch = Scratch::new("file-link");
    let (engine, a, _) = components();
    // A good artifact, in another directory of this user's.
    let elsewhere = DiskCache::open(&scratch.0.join("elsewhere")).expect("usable");
    let target = stored(&elsewhere, &engine, &a);
    assert!(elsewhere.load(&engine, &a).is_some());
    let cache = DiskCache::open(&scratch.0.join("cache")).expect("usable");
    let link = cache.dir.join(file_name(&key(&engine, &a)));
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    assert!(cache.load(&engine, &a).is_none());
    assert!(target.exists(), "the link's target is left alone");
}

#[test]
fn a_file_that_is_not_regular_is_refused() {
    let scratch = Scratch::new("fifo");
    let cache = DiskCache::open(&scratch.0).expect("usable");
    let (engine, a, _) = components();
    let name = file_name(&key(&engine, &a));
    std::fs::create_dir(scratch.0.join(&name)).expect("mkdir");
    assert!(cache.load(&engine, &a).is_none());
}
