//! `flotilla-executor run`'s wrapping of a real process: output passed through and captured, files
//! read for output parameters, the task result reported, the exit code kept.

use flotilla_executor::run_wrapped;

mod common;

use common::{cluster, identity, reported};

#[tokio::test]
async fn a_real_command_is_run_and_its_outputs_reported() {
    let (_cluster, client) = cluster().await;
    let dir = std::env::temp_dir().join(format!("flotilla-executor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("out.txt");
    let template = serde_json::json!({
        "name": "t",
        "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": out.display().to_string()}}]},
    })
    .to_string();
    let identity = identity("wf-1", template);
    let script = format!(
        "echo line one; echo line two; printf value > {}; exit 4",
        out.display()
    );
    let command = vec!["sh".to_string(), "-c".to_string(), script];
    let main_exited = dir.join(flotilla_executor::sidecar::MAIN_EXITED);
    let code = run_wrapped(&command, &identity, &client, &main_exited)
        .await
        .expect("the executor runs");
    assert_eq!(code, 4, "the container exits with the command's code");
    assert!(main_exited.exists(), "the sidecars are told main has ended");

    let outputs = reported(&client, "wf-1").await;
    assert_eq!(outputs.result.as_deref(), Some("line one\nline two"));
    assert_eq!(outputs.exit_code.as_deref(), Some("4"));
    assert_eq!(
        outputs.parameters[0].value.as_ref().map(|v| v.as_str()),
        Some("value")
    );
    let _ = std::fs::remove_dir_all(&dir);
}
