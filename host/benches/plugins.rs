//! What the WebAssembly policies cost per pod: a naming and a placement call on warm instances
//! (`plugins/naming-argo`, `plugins/placement-explicit`), against the native naming function.
//! Targets: placement + naming ≤ 5 µs median; instantiation ≤ 50 µs
//! (`naming_wasm_instantiate_and_call` less `naming_wasm_warm`).
//!
//! Run: `bash plugins/build.sh && cargo bench -p flotilla --bench plugins` (the `bench-hooks`
//! feature its calls need is on for benchmarks: host/Cargo.toml).

use criterion::{Criterion, criterion_group, criterion_main};
use flotilla::plugins::{ClusterState, Limits, Place, PluginHost, TemplateInfo};

fn component(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/target/wasm32-wasip2/release")
        .join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} — run bash plugins/build.sh", path.display()))
}

fn calls(c: &mut Criterion) {
    let host = PluginHost::shared().expect("plugin host");
    let naming = host
        .naming("naming-argo", &component("naming_argo"), Limits::default())
        .expect("naming plugin");
    let placement = host
        .placement(
            "explicit",
            &component("placement_explicit"),
            Limits::default(),
        )
        .expect("placement plugin");
    let template = TemplateInfo {
        workflow: "fan".into(),
        workflow_namespace: "argo".into(),
        node_name: "fan[0].fan(1234:1234)".into(),
        template_name: "say".into(),
        cluster: "cluster-1".into(),
        namespace: "default".into(),
        annotations: Vec::new(),
    };
    let clusters: Vec<ClusterState> = ["", "cluster-1", "cluster-2"]
        .iter()
        .map(|name| ClusterState {
            name: name.to_string(),
            healthy: true,
            ..Default::default()
        })
        .collect();
    let mut group = c.benchmark_group("plugins");
    group.bench_function("naming_native", |b| {
        b.iter(|| {
            flotilla_engine::naming::pod_name(
                "fan",
                &template.node_name,
                "say",
                flotilla_engine::naming::PodNameFormat::V2,
            )
        })
    });
    group.bench_function("naming_wasm_warm", |b| {
        b.iter(|| naming.pod_name(&template, &here(), "").expect("name"))
    });
    group.bench_function("placement_wasm_warm", |b| {
        b.iter(|| placement.place(&template, &clusters, "").expect("place"))
    });
    group.bench_function("placement_and_naming_wasm_warm", |b| {
        b.iter(|| {
            placement.place(&template, &clusters, "").expect("place");
            naming.pod_name(&template, &here(), "").expect("name")
        })
    });
    // A fresh instance (from the component's InstancePre) and its first call, against the warm
    // call above: instantiation costs the difference.
    group.bench_function("naming_wasm_instantiate_and_call", |b| {
        b.iter(|| {
            naming.discard_instance();
            naming.pod_name(&template, &here(), "").expect("name")
        })
    });
    // The same pair with wasmtime's concurrency support on (the shared host has it off).
    let concurrent = PluginHost::with_concurrency_support().expect("plugin host");
    let naming_c = concurrent
        .naming("naming-argo", &component("naming_argo"), Limits::default())
        .expect("naming plugin");
    let placement_c = concurrent
        .placement(
            "explicit",
            &component("placement_explicit"),
            Limits::default(),
        )
        .expect("placement plugin");
    group.bench_function("placement_and_naming_wasm_warm_concurrency_on", |b| {
        b.iter(|| {
            placement_c.place(&template, &clusters, "").expect("place");
            naming_c.pod_name(&template, &here(), "").expect("name")
        })
    });
    group.finish();
}

criterion_group!(benches, calls);
criterion_main!(benches);

/// The controller's own cluster, namespace `argo`.
fn here() -> Place {
    Place {
        cluster: String::new(),
        namespace: "argo".into(),
    }
}
