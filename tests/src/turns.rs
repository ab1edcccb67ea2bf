//! What ends a test's turn on shared clusters: its workflows and the controller configuration it
//! made are removed, with kubectl, so the next test starts from what `install` makes.

use super::*;

/// Runs kubectl on the environment's kubeconfig; its output, or `None` with the failure
/// reported (cleaning up is not the test's outcome, and runs while an environment is dropped).
pub(crate) fn kubectl_cleanup(kubeconfig: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .output();
    match out {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => {
            eprintln!(
                "cleaning up: kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("cleaning up: kubectl: {e}");
            None
        }
    }
}

/// The Workflows of `cluster-0` in every namespace: (namespace, name, uid) each; none when they
/// cannot be listed (no CRD yet).
pub(crate) fn workflows(kubeconfig: &Path) -> Vec<(String, String, String)> {
    listed(kubeconfig, "workflows.argoproj.io")
}

/// The CronWorkflows of `cluster-0`, as [`workflows`].
pub(crate) fn cron_workflows(kubeconfig: &Path) -> Vec<(String, String, String)> {
    listed(kubeconfig, "cronworkflows.argoproj.io")
}

/// Deletes the CronWorkflows of `cluster-0` whose uids are not in `before` (first: they would
/// submit workflows of their own meanwhile).
pub(crate) fn remove_cron_workflows_of_the_turn(kubeconfig: &Path, before: &HashSet<String>) {
    for (namespace, name, uid) in cron_workflows(kubeconfig) {
        if !before.contains(&uid) {
            kubectl_cleanup(
                kubeconfig,
                &[
                    "--context",
                    "cluster-0",
                    "-n",
                    &namespace,
                    "delete",
                    "cronworkflows.argoproj.io",
                    &name,
                    "--ignore-not-found",
                ],
            );
        }
    }
}

fn listed(kubeconfig: &Path, resource: &str) -> Vec<(String, String, String)> {
    let listing = "jsonpath={range .items[*]}{.metadata.namespace} {.metadata.name} {.metadata.uid}{\"\\n\"}{end}";
    // Quietly: before Flotilla is installed there is no such resource to list.
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--context", "cluster-0", "get", resource])
        .args(["--all-namespaces", "-o", listing])
        .output();
    let listed = match out {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        _ => return Vec::new(),
    };
    listed
        .lines()
        .filter_map(|l| {
            let mut fields = l.split(' ');
            Some((
                fields.next()?.to_owned(),
                fields.next()?.to_owned(),
                fields.next()?.to_owned(),
            ))
        })
        .collect()
}

/// Deletes the Workflows of `cluster-0` whose uids are not in `before` (the tests take turns, so
/// they are this test's), without their finalizer — the controller that would honour it has
/// stopped with the test — and their pods in both clusters. By uid, not by creation time: the
/// test machine's clock need not agree with the API server's.
pub(crate) fn remove_workflows_of_the_turn(kubeconfig: &Path, before: &HashSet<String>) {
    for (namespace, name, uid) in workflows(kubeconfig) {
        if before.contains(&uid) {
            continue;
        }
        let at = ["--context", "cluster-0", "-n", namespace.as_str()];
        let delete = [
            &at[..],
            &[
                "delete",
                "workflows.argoproj.io",
                &name,
                "--ignore-not-found",
                "--wait=false",
            ],
        ]
        .concat();
        kubectl_cleanup(kubeconfig, &delete);
        let unfinalize = [
            &at[..],
            &[
                "patch",
                "workflows.argoproj.io",
                &name,
                "--type=merge",
                "-p",
                r#"{"metadata":{"finalizers":null}}"#,
            ],
        ]
        .concat();
        // Gone already (no finalizer held it) is the usual answer.
        let _ = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(&unfinalize)
            .output();
        let selector = format!("workflows.argoproj.io/workflow={name}");
        for context in ["cluster-0", "cluster-1"] {
            kubectl_cleanup(
                kubeconfig,
                &[
                    "--context",
                    context,
                    "delete",
                    "pods",
                    "--all-namespaces",
                    "-l",
                    &selector,
                    "--ignore-not-found",
                    "--wait=false",
                ],
            );
        }
    }
}

/// Deletes the controller configuration tests create in `argo` of `cluster-0`, with kubectl
/// (synchronous, so it can run while an environment is dropped); failures are reported, not
/// fatal, as the test's own outcome is what matters.
pub(crate) fn reset_shared_configuration(kubeconfig: &Path) {
    let deletions: [&[&str]; 3] = [
        &["secret", flotilla::clusters::REST_CONFIG_SECRET],
        &["secret", "-l", flotilla::clusters::PROFILE_LABEL],
        &[
            "configmap",
            flotilla::authz::CONFIG_MAP,
            flotilla::plugins::settings::CONFIG_MAP,
            flotilla::controller::IMAGES_CONFIG_MAP,
        ],
    ];
    for what in deletions {
        let delete = [
            &[
                "--context",
                "cluster-0",
                "-n",
                "argo",
                "delete",
                "--ignore-not-found",
                "--wait=false",
            ][..],
            what,
        ]
        .concat();
        kubectl_cleanup(kubeconfig, &delete);
    }
}
