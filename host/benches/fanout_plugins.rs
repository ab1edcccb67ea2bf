//! What WebAssembly placement and naming cost a fan-out: the 2,000-pod fan-out of
//! `fanout.rs`, run by a controller whose policies are the `placement-explicit` and
//! `naming-argo` components (put in force as `flotilla-plugins` would) and, in the same run,
//! by one whose policies are native Rust stand-ins giving the same answers. Alternating rounds,
//! median of each. Target: the Wasm run within 2% of the native one.
//!
//! Run: `bash plugins/build.sh && cargo bench -p flotilla --bench fanout_plugins`.

mod common;

use std::sync::Arc;

use common::{median, submitted_rate};
use flotilla::controller::ControllerConfig;
use flotilla::plugins::ExtensionPoint;
use flotilla::plugins::settings::Settings;
use flotilla_engine::EngineConfig;
use flotilla_engine::ports::{
    ClusterState, Fixed, NamingPolicy, Place, PlacementPolicy, TemplateInfo,
};

const PODS: u64 = 2_000;
const ROUNDS: usize = 7;

fn workflow_yaml(name: &str, instance: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {{name: {name}, labels: {{workflows.argoproj.io/controller-instanceid: {instance}}}}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n    - - {{name: fan, template: say, withSequence: {{count: \"{PODS}\"}}}}\n  - name: say\n    container: {{image: argoproj/argosay:v2}}\n"
    )
}

/// The explicit placement, natively.
#[derive(Debug)]
struct NativeExplicit;

impl PlacementPolicy for NativeExplicit {
    fn place(&self, t: &TemplateInfo, _: &[ClusterState]) -> Result<Option<Place>, String> {
        let namespace = match t.namespace.is_empty() {
            true => t.workflow_namespace.clone(),
            false => t.namespace.clone(),
        };
        Ok(Some(Place {
            cluster: t.cluster.clone(),
            namespace,
        }))
    }
}

/// Argo's names, natively.
#[derive(Debug)]
struct NativeArgo;

impl NamingPolicy for NativeArgo {
    fn pod_name(&self, t: &TemplateInfo, _: &Place) -> Result<Option<String>, String> {
        Ok(Some(flotilla_engine::naming::pod_name(
            &t.workflow,
            &t.node_name,
            &t.template_name,
            flotilla_engine::naming::PodNameFormat::V2,
        )))
    }
}

/// The two components, put in force through `Active` as the ConfigMap's would be.
fn wasm_policies() -> Fixed {
    let path = |name: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../plugins/target/wasm32-wasip2/release")
            .join(format!("{name}.wasm"))
    };
    let read = |name: &str| {
        std::fs::read(path(name))
            .unwrap_or_else(|e| panic!("{name}: {e} — run bash plugins/build.sh"))
    };
    let settings = Settings::from_data(
        &[
            ("placement", "component: {configMapKey: p.wasm}"),
            ("naming", "component: {configMapKey: n.wasm}"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    );
    let host = flotilla::plugins::PluginHost::shared().expect("plugin host");
    let active = flotilla::plugins::Active::default();
    active
        .install(
            &host,
            &ExtensionPoint::Placement,
            &settings.points[&ExtensionPoint::Placement],
            &read("placement_explicit"),
        )
        .expect("placement");
    active
        .install(
            &host,
            &ExtensionPoint::Naming,
            &settings.points[&ExtensionPoint::Naming],
            &read("naming_argo"),
        )
        .expect("naming");
    let policies = active.policies(Arc::default());
    (
        policies.placement.expect("placement in force"),
        policies.naming.expect("naming in force"),
    )
}

fn controller(
    client: &kube::Client,
    instance: &str,
    policies: Fixed,
) -> flotilla::sandbox::ControllerHandle {
    flotilla::sandbox::spawn_controller_with(
        client.clone(),
        ControllerConfig {
            engine: EngineConfig {
                cluster: Some("cluster-0".into()),
                instance_id: Some(instance.into()),
                ..EngineConfig::default()
            },
            fixed_policies: Some(policies),
            ..ControllerConfig::default()
        },
    )
}

/// Pods per second: submission until a watch has seen the last pod.
async fn rate(client: &kube::Client, instance: &str, round: usize) -> f64 {
    let name = format!("fan-{instance}-{round}");
    submitted_rate(client, &name, &workflow_yaml(&name, instance), PODS).await
}

fn main() {
    let rt = common::runtime();
    rt.block_on(async {
        let (_cluster, client) = common::creation_only_cluster().await;
        let _wasm = controller(&client, "wasm", wasm_policies());
        let _native = controller(&client, "native", (Arc::new(NativeExplicit), Arc::new(NativeArgo)));
        let (mut wasm, mut native) = (Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            native.push(rate(&client, "native", round).await);
            wasm.push(rate(&client, "wasm", round).await);
        }
        let (wasm, native) = (median(wasm), median(native));
        println!("fanout_plugins/native_policies_pods_per_s {native:>10.0}  (median of {ROUNDS})");
        println!("fanout_plugins/wasm_policies_pods_per_s   {wasm:>10.0}  (placement-explicit + naming-argo)");
        println!("fanout_plugins/wasm_over_native           {:>10.1}%  (target >= 98%)", 100.0 * wasm / native);
    });
}
