//! The in-memory filesystem of a simulated pod.
//!
//! Emulated programs write files (`argosay echo text /tmp/out`, `echo x > /tmp/out`) and later read
//! them (`cat`), and the workflow executor reads output files after a container exits. As in a real
//! pod, each container has its own root filesystem, while a path under one of the container's
//! `volumeMounts` lands in that volume, which every container mounting it sees (how Argo's `wait`
//! and init containers share files with `main`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;

/// Where a file lives: a container's private root or a pod volume.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    Container(String),
    Volume(String),
}

/// A pod's files, keyed by scope and normalised absolute path.
#[derive(Debug, Clone, Default)]
pub struct PodFs {
    files: BTreeMap<(Scope, String), Vec<u8>>,
    /// Per container: (mountPath, volume name, subPath), longest mount path first.
    mounts: BTreeMap<String, Vec<(String, String, String)>>,
}

impl PodFs {
    /// A filesystem whose mounts follow the containers' `volumeMounts`.
    pub fn new<'a>(containers: impl IntoIterator<Item = &'a Container>) -> Self {
        let mut mounts = BTreeMap::new();
        for container in containers {
            let mut list: Vec<(String, String, String)> = container
                .volume_mounts
                .iter()
                .flatten()
                .map(|m| {
                    (
                        normalise(&m.mount_path),
                        m.name.clone(),
                        normalise_rel(m.sub_path.as_deref().unwrap_or("")),
                    )
                })
                .collect();
            list.sort_by_key(|(path, _, _)| std::cmp::Reverse(path.len()));
            mounts.insert(container.name.clone(), list);
        }
        Self {
            files: BTreeMap::new(),
            mounts,
        }
    }

    /// The file at `path` as `container` sees it.
    pub fn read(&self, container: &str, path: &str) -> Option<&[u8]> {
        self.files
            .get(&self.resolve(container, path))
            .map(Vec::as_slice)
    }

    /// Replaces (or, with `append`, extends) the file at `path` as `container` sees it. Parent
    /// directories need not exist: emulated programs create them as `mkdir -p` would.
    pub fn write(&mut self, container: &str, path: &str, data: &[u8], append: bool) {
        let key = self.resolve(container, path);
        let file = self.files.entry(key).or_default();
        if !append {
            file.clear();
        }
        file.extend_from_slice(data);
    }

    fn resolve(&self, container: &str, path: &str) -> (Scope, String) {
        let path = normalise(path);
        for (mount, volume, sub) in self.mounts.get(container).into_iter().flatten() {
            let rest = if mount == "/" {
                Some(path.as_str())
            } else {
                path.strip_prefix(mount.as_str())
                    .filter(|r| r.is_empty() || r.starts_with('/'))
            };
            if let Some(rest) = rest {
                let inner = normalise(&format!("/{sub}/{rest}"));
                return (Scope::Volume(volume.clone()), inner);
            }
        }
        (Scope::Container(container.to_owned()), path)
    }
}

/// An absolute path with `.`/`..`/empty components resolved, as the kernel would.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn normalise_rel(path: &str) -> String {
    normalise(path).trim_start_matches('/').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::VolumeMount;

    fn container(name: &str, mounts: &[(&str, &str, Option<&str>)]) -> Container {
        Container {
            name: name.into(),
            volume_mounts: Some(
                mounts
                    .iter()
                    .map(|(n, p, s)| VolumeMount {
                        name: (*n).into(),
                        mount_path: (*p).into(),
                        sub_path: s.map(Into::into),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    #[test]
    fn containers_have_private_roots_and_share_volumes() {
        let main = container("main", &[("var-run-argo", "/var/run/argo", None)]);
        let wait = container("wait", &[("var-run-argo", "/mainctrfs/var/run/argo", None)]);
        let mut fs = PodFs::new([&main, &wait]);
        fs.write("main", "/tmp/out", b"private", false);
        fs.write("main", "/var/run/argo/outputs/result", b"shared", false);
        assert_eq!(fs.read("main", "/tmp/out"), Some(&b"private"[..]));
        assert_eq!(fs.read("wait", "/tmp/out"), None);
        assert_eq!(
            fs.read("wait", "/mainctrfs/var/run/argo/outputs/result"),
            Some(&b"shared"[..])
        );
        // A sibling directory whose name merely starts with the mount path is not in the volume.
        fs.write("main", "/var/run/argox", b"no", false);
        assert_eq!(fs.read("wait", "/mainctrfs/var/run/argox"), None);
    }

    #[test]
    fn append_sub_path_and_normalisation() {
        let a = container("a", &[("data", "/data", Some("sub/dir"))]);
        let b = container("b", &[("data", "/all", None)]);
        let mut fs = PodFs::new([&a, &b]);
        fs.write("a", "/data/./x/../f", b"1", false);
        fs.write("a", "//data/f", b"2", true);
        assert_eq!(fs.read("b", "/all/sub/dir/f"), Some(&b"12"[..]));
        fs.write("a", "/data/f", b"3", false);
        assert_eq!(fs.read("a", "/data/f"), Some(&b"3"[..]));
    }
}
