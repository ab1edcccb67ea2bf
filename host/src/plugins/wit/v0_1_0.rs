//! `flotilla:plugins@0.1.0` (`wit/flotilla-plugins@0.1.0/`): a placement policy answers a place
//! alone, so its decision carries no reason.

super::version!("../wit/flotilla-plugins@0.1.0", types::Place => decision);

fn decision(place: types::Place) -> PlacementDecision {
    PlacementDecision {
        place: place.into(),
        reason: None,
    }
}

// 0.1.0's worlds export their one function bare: it is called on the world itself.

fn call_pod_name(
    instance: &naming::NamingPolicy,
    store: &mut wasmtime::Store<State>,
    template: &types::TemplateInfo,
    place: &types::Place,
    config: &str,
) -> wasmtime::Result<Result<String, types::PluginError>> {
    instance.call_pod_name(store, template, place, config)
}

fn call_place(
    instance: &placement::PlacementPolicy,
    store: &mut wasmtime::Store<State>,
    template: &types::TemplateInfo,
    clusters: &[types::ClusterState],
    config: &str,
) -> wasmtime::Result<Result<types::Place, types::PluginError>> {
    instance.call_place(store, template, clusters, config)
}

fn call_provide(
    instance: &credentials::CredentialProvider,
    store: &mut wasmtime::Store<State>,
    r: &CredentialRequest<'_>,
    config: &str,
) -> wasmtime::Result<Result<types::Credentials, types::PluginError>> {
    instance.call_provide(store, r.cluster, r.kind, r.entry, config, r.now)
}
