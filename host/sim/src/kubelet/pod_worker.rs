//! One task per pod bound to the node: drives its [`PodRun`] with emulated programs, writes
//! `pods/status` at each step, and completes its deletion.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodStatus, Secret};
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;

use super::argosay::{Action, Execution, NOT_EMULATED_EXIT_CODE, program_for, wrapper};
use super::env::{EnvSources, container_env, expand, references};
use super::fs::PodFs;
use super::lifecycle::{Next, PodRun, Slot};
use super::{ContainerExit, ContainerOutput, NativeStart, Shared};
use crate::logs::{ContainerRef, LogOptions};

/// Default `terminationMessagePath`, and the kubelet's limits on what it reads back.
const TERMINATION_LOG: &str = "/dev/termination-log";
const MAX_TERMINATION_MESSAGE: usize = 4096;
const FALLBACK_LOG_LINES: i64 = 80;
const FALLBACK_LOG_BYTES: usize = 2048;
/// Thirty years: what a sleep longer than a timer can hold lasts.
const FOR_EVER: std::time::Duration = std::time::Duration::from_secs(30 * 365 * 86_400);

/// A program's sleep under the simulation's `sleep_scale`, capped at [`FOR_EVER`] (a script may
/// ask for more than a `Duration` holds after scaling).
fn scaled(duration: std::time::Duration, scale: f64) -> std::time::Duration {
    std::time::Duration::try_from_secs_f64(duration.as_secs_f64() * scale.max(0.0))
        .map_or(FOR_EVER, |d| d.min(FOR_EVER))
}

/// How often an emulated sidecar's executor looks for main's end while its command sleeps.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Something that happened to a container, reported back to the pod task.
#[derive(Debug)]
enum Event {
    Exited {
        slot: Slot,
        exit_code: i32,
        message: Option<String>,
    },
    Restart(Slot),
}

/// Runs the pod in `updates` until it is deleted (or the task is aborted).
pub(super) async fn run(shared: Arc<Shared>, updates: watch::Receiver<Pod>) {
    let pod = updates.borrow().clone();
    let phase = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    let host_network = pod
        .spec
        .as_ref()
        .and_then(|s| s.host_network)
        .unwrap_or(false);
    let pod_ip = if host_network {
        shared.options.node_ip.clone()
    } else {
        shared.allocate_pod_ip()
    };
    let run = PodRun::new(&pod, &shared.options.node_ip, &pod_ip, Timestamp::now()).with_backoff(
        shared.options.restart_backoff,
        shared.options.restart_backoff_max,
    );
    let fs = PodFs::new(
        pod.spec
            .iter()
            .flat_map(|s| s.init_containers.iter().flatten().chain(&s.containers)),
    );
    let (events_tx, events) = mpsc::unbounded_channel();
    let mut worker = PodWorker {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        api: Api::namespaced(
            shared.client.clone(),
            pod.metadata.namespace.as_deref().unwrap_or_default(),
        ),
        shared,
        pod,
        run,
        fs: Arc::new(Mutex::new(fs)),
        last_status: None,
        tasks: JoinSet::new(),
        running: HashMap::new(),
        events_tx,
        events,
        updates,
    };
    if matches!(phase.as_str(), "Succeeded" | "Failed") {
        // Finished before this kubelet saw it: only its deletion is left to complete.
        worker.await_deletion().await;
        return;
    }
    worker.drive().await;
}

struct PodWorker {
    shared: Arc<Shared>,
    api: Api<Pod>,
    namespace: String,
    name: String,
    uid: String,
    /// The latest pod object from the watch.
    pod: Pod,
    run: PodRun,
    fs: Arc<Mutex<PodFs>>,
    /// What was last written to `pods/status` (the basis for condition transition times).
    last_status: Option<PodStatus>,
    /// Container programs and restart timers; aborted when the pod stops.
    tasks: JoinSet<()>,
    running: HashMap<Slot, AbortHandle>,
    events_tx: mpsc::UnboundedSender<Event>,
    events: mpsc::UnboundedReceiver<Event>,
    updates: watch::Receiver<Pod>,
}

impl PodWorker {
    fn deleting(&self) -> bool {
        self.pod.metadata.deletion_timestamp.is_some()
    }

    /// Takes the newest pod from the watch; false when the pod is gone.
    async fn next_update(&mut self) -> bool {
        if self.updates.changed().await.is_err() {
            return false;
        }
        self.pod = self.updates.borrow_and_update().clone();
        true
    }

    async fn drive(&mut self) {
        if self.deleting() {
            return self.finish_deletion().await;
        }
        // `startTime` is now; the deadline counts from it.
        let started = Instant::now();
        self.write_status().await;
        let creating = tokio::time::sleep(self.shared.options.container_creating);
        tokio::pin!(creating);
        loop {
            tokio::select! {
                () = &mut creating => break,
                alive = self.next_update() => {
                    if !alive {
                        return;
                    }
                    if self.deleting() {
                        return self.finish_deletion().await;
                    }
                }
            }
        }
        let deadline = PodRun::active_deadline(&self.pod).map(|d| started + d);
        let next = self.run.sandbox_ready();
        self.apply(next).await;
        self.write_status().await;
        while !self.run.is_terminal() {
            tokio::select! {
                Some(event) = self.events.recv() => self.handle(event).await,
                changed = self.updates.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    self.pod = self.updates.borrow_and_update().clone();
                    if self.deleting() {
                        return self.finish_deletion().await;
                    }
                }
                () = sleep_until(deadline) => self.run.deadline_exceeded(Timestamp::now()),
            }
            self.write_status().await;
        }
        self.stop_containers();
        self.write_status().await;
        self.await_deletion().await;
    }

    async fn handle(&mut self, event: Event) {
        match event {
            Event::Exited {
                slot,
                exit_code,
                message,
            } => {
                self.running.remove(&slot);
                let Some(container) = self.spec(slot).cloned() else {
                    return;
                };
                let message = message.or_else(|| self.termination_message(&container, exit_code));
                self.shared
                    .logs
                    .terminate_container(&self.namespace, &self.name, &container.name);
                let snapshot = self.fs.lock().clone();
                let exit = ContainerExit {
                    pod: &self.pod,
                    container: &container.name,
                    exit_code,
                    fs: &snapshot,
                    logs: &self.shared.logs,
                    termination_message: message.as_deref(),
                };
                // What the container's last act left in its termination log, read as the
                // kubelet reads that file: its beginning.
                let message = match self.shared.hook.on_container_exit(exit).await {
                    Some(mut left) => {
                        let mut cut = left.len().min(MAX_TERMINATION_MESSAGE);
                        while !left.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        left.truncate(cut);
                        Some(left).filter(|m| !m.is_empty())
                    }
                    None => message,
                };
                let next = self.run.exited(slot, exit_code, message, Timestamp::now());
                self.apply(next).await;
            }
            Event::Restart(slot) => {
                if !self.run.is_terminal() {
                    self.start(slot).await;
                }
            }
        }
    }

    async fn apply(&mut self, next: Vec<Next>) {
        for step in next {
            match step {
                Next::Start(slot) => self.start(slot).await,
                Next::RestartAfter(slot, delay) if delay.is_zero() => self.start(slot).await,
                Next::RestartAfter(slot, delay) => {
                    self.run.backing_off(slot, delay);
                    let events = self.events_tx.clone();
                    self.tasks.spawn(async move {
                        tokio::time::sleep(delay).await;
                        let _ = events.send(Event::Restart(slot));
                    });
                }
            }
        }
    }

    fn spec(&self, slot: Slot) -> Option<&Container> {
        let spec = self.pod.spec.as_ref()?;
        if slot.init {
            spec.init_containers.as_ref()?.get(slot.index)
        } else {
            spec.containers.get(slot.index)
        }
    }

    /// Starts a container: resolves its environment, builds its program and runs it in a task.
    async fn start(&mut self, slot: Slot) {
        let Some(container) = self.spec(slot).cloned() else {
            return;
        };
        let sources = self.env_sources(&container).await;
        let env = match container_env(
            &self.pod,
            &container,
            &self.run.host_ip,
            &self.run.pod_ip,
            &sources,
        ) {
            Ok(env) => env,
            Err(message) => {
                self.run
                    .cannot_create(slot, "CreateContainerConfigError", message);
                return;
            }
        };
        let lookup = |name: &str| env.get(name).cloned();
        let command: Vec<String> = container
            .command
            .iter()
            .flatten()
            .map(|c| expand(c, lookup))
            .collect();
        let args: Vec<String> = container
            .args
            .iter()
            .flatten()
            .map(|a| expand(a, lookup))
            .collect();
        let mut shell_env = env.clone();
        shell_env
            .entry("HOSTNAME".to_owned())
            .or_insert_with(|| self.name.clone());
        let argv: Vec<String> = command.iter().chain(&args).cloned().collect();
        let native = self.shared.hook.run_native(NativeStart {
            pod: &self.pod,
            container: &container.name,
            argv: &argv,
            env: &shell_env,
            output: ContainerOutput {
                logs: self.shared.logs.clone(),
                namespace: self.namespace.clone(),
                pod: self.name.clone(),
                container: container.name.clone(),
            },
        });
        let program = program_for(
            container.image.as_deref().unwrap_or_default(),
            &command,
            &args,
            &shell_env,
        );
        let wrapper = wrapper(&command, &args);

        self.run.started(slot, Timestamp::now());
        self.shared
            .logs
            .start_container(&self.namespace, &self.name, &container.name);
        let events = self.events_tx.clone();
        let (fs, logs) = (Arc::clone(&self.fs), self.shared.logs.clone());
        let (namespace, pod, name) = (
            self.namespace.clone(),
            self.name.clone(),
            container.name.clone(),
        );
        let scale = self.shared.options.sleep_scale;
        let handle = self.tasks.spawn(async move {
            if let Some(native) = native {
                let exit = native.await;
                let _ = events.send(Event::Exited {
                    slot,
                    exit_code: exit.code.clamp(0, 255),
                    message: exit.message,
                });
                return;
            }
            let stopped = |fs: &Mutex<PodFs>| {
                wrapper
                    .stops_at
                    .as_deref()
                    .is_some_and(|path| fs.lock().read(&name, path).is_some())
            };
            let (exit_code, message) = match program {
                Err(not_emulated) => (NOT_EMULATED_EXIT_CODE, Some(not_emulated.message)),
                Ok(program) => {
                    let mut execution = Execution::new(program);
                    loop {
                        // A wrapped sidecar's executor stops its command once main has ended.
                        if stopped(&fs) {
                            break (0, None);
                        }
                        let action = execution.next(&name, &mut fs.lock());
                        match action {
                            Action::Output(stream, text) => logs.append(
                                &namespace,
                                &pod,
                                &name,
                                stream,
                                Timestamp::now(),
                                &text,
                            ),
                            Action::Sleep(duration) if wrapper.stops_at.is_some() => {
                                // A sleep past what an Instant can hold is a sleep for ever.
                                let until = Instant::now()
                                    .checked_add(scaled(duration, scale))
                                    .unwrap_or_else(|| Instant::now() + FOR_EVER);
                                while Instant::now() < until && !stopped(&fs) {
                                    tokio::time::sleep_until(until.min(Instant::now() + STOP_POLL))
                                        .await;
                                }
                            }
                            Action::Sleep(duration) => {
                                tokio::time::sleep(scaled(duration, scale)).await
                            }
                            Action::Exit(code) => break (code, None),
                        }
                    }
                }
            };
            // Main's executor tells the sidecars that main has ended, whatever its outcome.
            if let Some(path) = &wrapper.leaves {
                fs.lock().write(&name, path, b"", false);
            }
            let _ = events.send(Event::Exited {
                slot,
                exit_code,
                message,
            });
        });
        self.running.insert(slot, handle);
    }

    /// Fetches the ConfigMaps and Secrets the container's environment refers to.
    async fn env_sources(&self, container: &Container) -> EnvSources {
        let (config_maps, secrets) = references(container);
        let mut sources = EnvSources::default();
        let cm_api: Api<ConfigMap> = Api::namespaced(self.shared.client.clone(), &self.namespace);
        for name in config_maps {
            let data = cm_api
                .get_opt(&name)
                .await
                .ok()
                .flatten()
                .map(|cm| cm.data.unwrap_or_default());
            sources.config_maps.insert(name, data);
        }
        let secret_api: Api<Secret> = Api::namespaced(self.shared.client.clone(), &self.namespace);
        for name in secrets {
            let data = secret_api.get_opt(&name).await.ok().flatten().map(|s| {
                let mut data: BTreeMap<String, String> = s
                    .data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                    .collect();
                data.extend(s.string_data.unwrap_or_default());
                data
            });
            sources.secrets.insert(name, data);
        }
        sources
    }

    /// The kubelet's termination message: the `terminationMessagePath` file, else (with
    /// `FallbackToLogsOnError` and a failure) the end of the log.
    fn termination_message(&self, container: &Container, exit_code: i32) -> Option<String> {
        let path = container
            .termination_message_path
            .as_deref()
            .unwrap_or(TERMINATION_LOG);
        let from_file = self.fs.lock().read(&container.name, path).map(|data| {
            let data = &data[..data.len().min(MAX_TERMINATION_MESSAGE)];
            String::from_utf8_lossy(data).into_owned()
        });
        if let Some(message) = from_file.filter(|m| !m.is_empty()) {
            return Some(message);
        }
        if exit_code == 0
            || container.termination_message_policy.as_deref() != Some("FallbackToLogsOnError")
        {
            return None;
        }
        let options = LogOptions {
            tail_lines: Some(FALLBACK_LOG_LINES),
            ..Default::default()
        };
        let log = self
            .shared
            .logs
            .read(
                ContainerRef {
                    namespace: &self.namespace,
                    pod: &self.name,
                    container: &container.name,
                },
                &options,
                Timestamp::now(),
            )
            .ok()?;
        let start = log.len().saturating_sub(FALLBACK_LOG_BYTES);
        let message = String::from_utf8_lossy(log.get(start..).unwrap_or_default()).into_owned();
        (!message.is_empty()).then_some(message)
    }

    /// Kills every container task and restart timer; their logs end.
    fn stop_containers(&mut self) {
        self.tasks.abort_all();
        for c in self.run.init.iter().chain(&self.run.containers) {
            self.shared
                .logs
                .terminate_container(&self.namespace, &self.name, &c.name);
        }
        self.running.clear();
    }

    /// Graceful deletion: stop the pod, report its terminal status, then remove it for good.
    async fn finish_deletion(&mut self) {
        self.run.deleting(Timestamp::now());
        self.stop_containers();
        self.write_status().await;
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: Some(self.uid.clone()),
                resource_version: None,
            }),
            ..Default::default()
        };
        match self.api.delete(&self.name, &params).await {
            Ok(_) => {}
            // Already gone, or a new pod of the same name: either way this one is done.
            Err(kube::Error::Api(status)) if matches!(status.code, 404 | 409) => {}
            Err(e) => {
                tracing::warn!(pod = %self.name, namespace = %self.namespace, error = %e, "completing pod deletion")
            }
        }
    }

    /// A finished pod waits here until it is deleted.
    async fn await_deletion(&mut self) {
        loop {
            if self.deleting() {
                return self.finish_deletion().await;
            }
            if !self.next_update().await {
                return;
            }
        }
    }

    /// Writes the current status if it changed since the last write.
    async fn write_status(&mut self) {
        let mut basis = self.pod.clone();
        if let Some(last) = &self.last_status {
            basis.status = Some(last.clone());
        }
        let status = self.run.status(&basis, Timestamp::now());
        if self.last_status.as_ref() == Some(&status) {
            return;
        }
        let Ok(mut value) = serde_json::to_value(&status) else {
            return;
        };
        if let Some(object) = value.as_object_mut() {
            // A merge patch leaves absent fields alone; clear what the kubelet no longer reports.
            for key in ["reason", "message", "initContainerStatuses"] {
                object.entry(key).or_insert(Value::Null);
            }
        }
        let patch = Patch::Merge(json!({ "status": value }));
        match self
            .api
            .patch_status(&self.name, &PatchParams::default(), &patch)
            .await
        {
            Ok(_) => self.last_status = Some(status),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                tracing::warn!(pod = %self.name, namespace = %self.namespace, error = %e, "updating pod status")
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
