use super::status::normalise_image;
use super::*;
use k8s_openapi::api::core::v1::{PodCondition, PodSpec, PodStatus};
use serde_json::json;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).unwrap()
}

fn pod(policy: &str, init: &[&str], main: &[&str]) -> Pod {
    let container = |n: &&str| Container {
        name: (*n).into(),
        image: Some("argoproj/argosay:v2".into()),
        ..Default::default()
    };
    Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("p".into()),
            namespace: Some("ns".into()),
            uid: Some("uid-1".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            restart_policy: Some(policy.into()),
            init_containers: (!init.is_empty()).then(|| init.iter().map(container).collect()),
            containers: main.iter().map(container).collect(),
            ..Default::default()
        }),
        status: None,
    }
}

const MAIN: Slot = Slot {
    init: false,
    index: 0,
};
const SIDE: Slot = Slot {
    init: false,
    index: 1,
};
const INIT0: Slot = Slot {
    init: true,
    index: 0,
};
const INIT1: Slot = Slot {
    init: true,
    index: 1,
};

fn run(pod: &Pod) -> PodRun {
    PodRun::new(pod, "10.0.0.10", "10.244.0.5", t(0))
}

fn status_json(run: &PodRun, pod: &Pod, now: i64) -> serde_json::Value {
    serde_json::to_value(run.status(pod, t(now))).unwrap()
}

fn condition(status: &serde_json::Value, type_: &str) -> serde_json::Value {
    status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
        .unwrap()
}

#[test]
fn never_success_path_with_statuses() {
    let pod = pod("Never", &[], &["main"]);
    let mut run = run(&pod);
    let s = status_json(&run, &pod, 0);
    assert_eq!(s["phase"], "Pending");
    assert_eq!(s["hostIP"], "10.0.0.10");
    assert_eq!(s["podIPs"], json!([{"ip": "10.244.0.5"}]));
    assert_eq!(s["startTime"], "2023-11-14T22:13:20Z");
    assert_eq!(
        s["containerStatuses"][0]["state"],
        json!({"waiting": {"reason": "ContainerCreating"}})
    );
    assert_eq!(
        s["containerStatuses"][0]["image"],
        "docker.io/argoproj/argosay:v2"
    );
    assert_eq!(s["containerStatuses"][0]["imageID"], "");
    assert_eq!(
        condition(&s, "PodReadyToStartContainers")["status"],
        "False"
    );
    assert_eq!(
        condition(&s, "Ready")["message"],
        "containers with unready status: [main]"
    );
    assert_eq!(condition(&s, "PodScheduled")["status"], "True");

    assert_eq!(run.sandbox_ready(), vec![Next::Start(MAIN)]);
    run.started(MAIN, t(1));
    let s = status_json(&run, &pod, 1);
    assert_eq!(s["phase"], "Running");
    let cs = &s["containerStatuses"][0];
    assert_eq!(cs["ready"], true);
    assert_eq!(cs["started"], true);
    assert!(cs["containerID"].as_str().unwrap().starts_with("sim://"));
    assert!(
        cs["imageID"]
            .as_str()
            .unwrap()
            .starts_with("docker.io/argoproj/argosay@sha256:")
    );
    assert_eq!(cs["state"]["running"]["startedAt"], "2023-11-14T22:13:21Z");
    let ready = condition(&s, "Ready");
    assert_eq!(
        (
            ready["status"].as_str(),
            ready["lastTransitionTime"].as_str()
        ),
        (Some("True"), Some("2023-11-14T22:13:21Z"))
    );

    assert_eq!(run.exited(MAIN, 0, None, t(3)), vec![]);
    assert!(run.is_terminal());
    let s = status_json(&run, &pod, 3);
    assert_eq!(s["phase"], "Succeeded");
    let term = &s["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (term["exitCode"].as_i64(), term["reason"].as_str()),
        (Some(0), Some("Completed"))
    );
    assert_eq!(term["finishedAt"], "2023-11-14T22:13:23Z");
    let ready = condition(&s, "Ready");
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some("False"), Some("PodCompleted"))
    );
    assert_eq!(
        condition(&s, "PodReadyToStartContainers")["status"],
        "False"
    );
}

#[test]
fn never_failure_waits_for_all_containers() {
    let pod = pod("Never", &[], &["main", "side"]);
    let mut run = run(&pod);
    assert_eq!(
        run.sandbox_ready(),
        vec![Next::Start(MAIN), Next::Start(SIDE)]
    );
    run.started(MAIN, t(1));
    run.started(SIDE, t(1));
    assert_eq!(run.exited(MAIN, 1, Some("boom".into()), t(2)), vec![]);
    assert_eq!(run.phase(), "Running", "the other container still runs");
    run.exited(SIDE, 0, None, t(3));
    assert_eq!(run.phase(), "Failed");
    let s = status_json(&run, &pod, 3);
    let term = &s["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (
            term["exitCode"].as_i64(),
            term["reason"].as_str(),
            term["message"].as_str()
        ),
        (Some(1), Some("Error"), Some("boom"))
    );
}

#[test]
fn on_failure_restarts_failed_containers_with_backoff() {
    let pod = pod("OnFailure", &[], &["main"]);
    let mut run = run(&pod).with_backoff(Duration::from_secs(10), Duration::from_secs(300));
    run.sandbox_ready();
    run.started(MAIN, t(1));
    assert_eq!(
        run.exited(MAIN, 2, None, t(2)),
        vec![Next::RestartAfter(MAIN, Duration::ZERO)]
    );
    assert_eq!(run.phase(), "Running");
    run.started(MAIN, t(2));
    assert_eq!(
        run.exited(MAIN, 2, None, t(3)),
        vec![Next::RestartAfter(MAIN, Duration::from_secs(10))]
    );
    run.backing_off(MAIN, Duration::from_secs(10));
    let s = status_json(&run, &pod, 3);
    assert_eq!(s["phase"], "Running");
    let cs = &s["containerStatuses"][0];
    assert_eq!(cs["restartCount"], 1);
    assert_eq!(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(
        cs["state"]["waiting"]["message"],
        "back-off 10s restarting failed container=main pod=p_ns(uid-1)"
    );
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 2);
    run.started(MAIN, t(13));
    assert_eq!(run.container(MAIN).unwrap().restart_count, 2);
    assert_eq!(
        run.exited(MAIN, 2, None, t(14)),
        vec![Next::RestartAfter(MAIN, Duration::from_secs(20))]
    );
    run.started(MAIN, t(34));
    assert_eq!(run.exited(MAIN, 0, None, t(35)), vec![]);
    assert_eq!(run.phase(), "Succeeded");
    let s = status_json(&run, &pod, 35);
    assert_eq!(s["containerStatuses"][0]["restartCount"], 3);
    assert_eq!(
        s["containerStatuses"][0]["lastState"]["terminated"]["exitCode"],
        2
    );
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let pod = pod("Always", &[], &["main"]);
    let run = run(&pod);
    let delays: Vec<u64> = (0..8).map(|n| run.backoff(n).as_secs()).collect();
    assert_eq!(delays, vec![0, 10, 20, 40, 80, 160, 300, 300]);
    assert_eq!(go_duration(Duration::from_secs(300)), "5m0s");
    assert_eq!(go_duration(Duration::from_millis(20)), "20ms");
}

#[test]
fn always_restarts_even_on_success_and_never_succeeds() {
    let pod = pod("Always", &[], &["main"]);
    let mut run = run(&pod);
    run.sandbox_ready();
    run.started(MAIN, t(1));
    assert_eq!(
        run.exited(MAIN, 0, None, t(2)),
        vec![Next::RestartAfter(MAIN, Duration::ZERO)]
    );
    assert_eq!(run.phase(), "Running");
    assert!(!run.is_terminal());
}

#[test]
fn init_containers_run_in_order_before_main() {
    let pod = pod("Never", &["init0", "init1"], &["main"]);
    let mut run = run(&pod);
    let s = status_json(&run, &pod, 0);
    assert_eq!(
        s["initContainerStatuses"][0]["state"]["waiting"]["reason"],
        "ContainerCreating"
    );
    assert_eq!(
        s["initContainerStatuses"][1]["state"]["waiting"]["reason"],
        "PodInitializing"
    );
    assert_eq!(
        s["containerStatuses"][0]["state"]["waiting"]["reason"],
        "PodInitializing"
    );
    assert_eq!(run.sandbox_ready(), vec![Next::Start(INIT0)]);
    run.started(INIT0, t(1));
    assert_eq!(run.exited(INIT0, 0, None, t(2)), vec![Next::Start(INIT1)]);
    let s = status_json(&run, &pod, 2);
    assert_eq!(s["phase"], "Pending");
    let init = condition(&s, "Initialized");
    assert_eq!(init["status"], "False");
    assert_eq!(init["reason"], "ContainersNotInitialized");
    assert_eq!(
        init["message"],
        "containers with incomplete status: [init1]"
    );
    run.started(INIT1, t(2));
    assert_eq!(run.exited(INIT1, 0, None, t(3)), vec![Next::Start(MAIN)]);
    let s = status_json(&run, &pod, 3);
    assert_eq!(condition(&s, "Initialized")["status"], "True");
    assert_eq!(
        s["containerStatuses"][0]["state"]["waiting"]["reason"],
        "ContainerCreating"
    );
    run.started(MAIN, t(3));
    run.exited(MAIN, 0, None, t(4));
    assert_eq!(run.phase(), "Succeeded");
    assert_eq!(
        condition(&status_json(&run, &pod, 4), "Initialized")["reason"],
        "PodCompleted"
    );
}

#[test]
fn failed_init_container_fails_pod_under_never() {
    let pod = pod("Never", &["init0"], &["main"]);
    let mut run = run(&pod);
    run.sandbox_ready();
    run.started(INIT0, t(1));
    assert_eq!(run.exited(INIT0, 1, None, t(2)), vec![]);
    assert_eq!(run.phase(), "Failed");
    let s = status_json(&run, &pod, 2);
    assert_eq!(
        s["containerStatuses"][0]["state"]["waiting"]["reason"],
        "PodInitializing"
    );
    assert_eq!(
        s["initContainerStatuses"][0]["state"]["terminated"]["exitCode"],
        1
    );
}

#[test]
fn failed_init_container_restarts_under_on_failure_and_always() {
    for policy in ["OnFailure", "Always"] {
        let pod = pod(policy, &["init0"], &["main"]);
        let mut run = run(&pod);
        run.sandbox_ready();
        run.started(INIT0, t(1));
        assert_eq!(
            run.exited(INIT0, 1, None, t(2)),
            vec![Next::RestartAfter(INIT0, Duration::ZERO)],
            "{policy}"
        );
        assert_eq!(run.phase(), "Pending");
        run.started(INIT0, t(2));
        assert_eq!(
            run.exited(INIT0, 0, None, t(3)),
            vec![Next::Start(MAIN)],
            "{policy}"
        );
    }
}

#[test]
fn deadline_exceeded_kills_and_fails() {
    let mut pod = pod("Never", &[], &["main"]);
    if let Some(spec) = pod.spec.as_mut() {
        spec.active_deadline_seconds = Some(30);
    }
    let mut run = run(&pod);
    assert_eq!(PodRun::active_deadline(&pod), Some(Duration::from_secs(30)));
    run.sandbox_ready();
    run.started(MAIN, t(1));
    run.deadline_exceeded(t(30));
    assert_eq!(run.phase(), "Failed");
    // A late exit changes nothing and restarts nothing.
    assert_eq!(run.exited(MAIN, 0, None, t(31)), vec![]);
    let s = status_json(&run, &pod, 30);
    assert_eq!(s["reason"], "DeadlineExceeded");
    assert_eq!(
        s["message"],
        "Pod was active on the node longer than the specified deadline"
    );
    let term = &s["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(
        (term["exitCode"].as_i64(), term["reason"].as_str()),
        (Some(137), Some("Error"))
    );
}

#[test]
fn deletion_ends_in_a_terminal_phase() {
    let pod = pod("Always", &[], &["main"]);
    let mut run = run(&pod);
    run.sandbox_ready();
    run.started(MAIN, t(1));
    run.deleting(t(5));
    assert_eq!(run.phase(), "Failed");

    let pod = pod_succeeded();
    let mut run = run_done(&pod);
    run.deleting(t(9));
    assert_eq!(run.phase(), "Succeeded");
}

fn pod_succeeded() -> Pod {
    pod("Never", &[], &["main"])
}

fn run_done(pod: &Pod) -> PodRun {
    let mut run = run(pod);
    run.sandbox_ready();
    run.started(MAIN, t(1));
    run.exited(MAIN, 0, None, t(2));
    run
}

#[test]
fn conditions_keep_transition_times_and_scheduled_condition() {
    let mut pod = pod("Never", &[], &["main"]);
    pod.status = Some(PodStatus {
        conditions: Some(vec![PodCondition {
            type_: "PodScheduled".into(),
            status: "True".into(),
            last_transition_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t(-5))),
            ..Default::default()
        }]),
        qos_class: Some("BestEffort".into()),
        ..Default::default()
    });
    let mut run = run(&pod);
    run.sandbox_ready();
    run.started(MAIN, t(1));
    pod.status = Some(run.status(&pod, t(1)));
    let s = status_json(&run, &pod, 50);
    assert_eq!(
        condition(&s, "Ready")["lastTransitionTime"],
        "2023-11-14T22:13:21Z"
    );
    assert_eq!(
        condition(&s, "PodScheduled")["lastTransitionTime"],
        "2023-11-14T22:13:15Z"
    );
    assert_eq!(s["qosClass"], "BestEffort");
    let types: Vec<&str> = s["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled"
        ]
    );
}

#[test]
fn cannot_create_leaves_container_waiting() {
    let pod = pod("Never", &[], &["main"]);
    let mut run = run(&pod);
    run.sandbox_ready();
    run.cannot_create(
        MAIN,
        "CreateContainerConfigError",
        "secret \"s\" not found".into(),
    );
    let s = status_json(&run, &pod, 1);
    assert_eq!(s["phase"], "Pending");
    assert_eq!(
        s["containerStatuses"][0]["state"]["waiting"]["message"],
        "secret \"s\" not found"
    );
}

#[test]
fn images_and_ids() {
    assert_eq!(normalise_image("alpine"), "docker.io/library/alpine:latest");
    assert_eq!(
        normalise_image("argoproj/argosay:v2"),
        "docker.io/argoproj/argosay:v2"
    );
    assert_eq!(
        normalise_image("quay.io/argoproj/argoexec:v3.6.0"),
        "quay.io/argoproj/argoexec:v3.6.0"
    );
    assert_eq!(
        normalise_image("localhost:5000/x"),
        "localhost:5000/x:latest"
    );
    assert_eq!(
        normalise_image("alpine@sha256:abc"),
        "docker.io/library/alpine@sha256:abc"
    );
    assert_eq!(fake_digest("a").len(), 64);
    assert_ne!(fake_digest("a"), fake_digest("b"));
    let pod = pod("Never", &[], &["main"]);
    let mut run = run(&pod);
    let first = run.next_container_id(MAIN);
    run.started(MAIN, t(1));
    run.exited(MAIN, 1, None, t(2));
    assert_ne!(
        first,
        run.next_container_id(MAIN),
        "a restart gets a new container ID"
    );
}
