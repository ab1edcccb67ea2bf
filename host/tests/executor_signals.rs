//! The executor forwards the signals it receives to the command it runs. A test binary of its
//! own: the forwarding is process-wide, so a command run by another test in the same process
//! would receive the signal too.

use flotilla_executor::run_wrapped;

mod common;

use common::{cluster, identity, reported};

/// The kubelet stops a pod by signalling its PID 1, the executor; the command must hear it, or
/// `stop`/`terminate` would wait out the grace period. The command signals its parent (this
/// test process, standing in for the executor binary) and must receive the SIGTERM back. Were
/// nothing forwarded the command would sleep on and exit 0; were no handler installed the
/// signal would kill this test binary.
#[tokio::test]
async fn a_signal_to_the_executor_reaches_the_command() {
    let (_cluster, client) = cluster().await;
    let identity = identity("wf-2", r#"{"name": "t"}"#.to_string());
    // The sleep, started first, holds standard output open: it must be stopped too (the whole
    // group is signalled), or the executor would read on until it ends a minute later.
    let script = r#"sleep 60 & trap 'echo stopped; exit 7' TERM; kill -TERM $PPID; wait"#;
    let command = vec!["sh".to_string(), "-c".to_string(), script.to_string()];
    let main_exited = std::env::temp_dir().join(format!("main-exited-{}", std::process::id()));
    let code = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        run_wrapped(&command, &identity, &client, &main_exited),
    )
    .await
    .expect("the command's children were stopped with it, not left holding its output")
    .expect("the executor runs");
    assert_eq!(code, 7, "the command's TERM trap ran");
    let _ = std::fs::remove_file(&main_exited);
    assert_eq!(
        reported(&client, "wf-2").await.result.as_deref(),
        Some("stopped")
    );
}
