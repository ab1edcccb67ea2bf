//! Clients from a credential provider's answer (`flotilla::clusters::provided`): a refreshed
//! bearer token reaches the next request of the same client, and a watch opened before the
//! refresh keeps delivering — nothing is dropped. Against a simulated API server with real TLS
//! and token authentication.

use flotilla::clusters::provided;
use flotilla::clusters::{Auth, ClusterCredentials};
use flotilla_sim::{ClusterConfig, SimCluster};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};

fn bearer(token: &str) -> Auth {
    Auth::BearerToken(token.to_string().into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_token_reaches_the_next_request_and_the_watch_carries_on() {
    let sim = SimCluster::start(ClusterConfig::new("provided"))
        .await
        .expect("simulator");
    let first = sim.add_user("first", &["system:masters"]);
    let second = sim.add_user("second", &["system:masters"]);
    let credentials = ClusterCredentials {
        server: sim.url().to_string(),
        ca_pem: sim.ca_pem().expect("TLS").to_string(),
        insecure: false,
        server_name: String::new(),
        auth: bearer(first.expose()),
        expires_at: Some(1),
    };
    let shown = format!("{credentials:?}");
    assert!(!shown.contains(first.expose()), "{shown}");
    let (client, slot) = provided::client("provided", &credentials)
        .await
        .expect("client");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .list(&ListParams::default())
        .await
        .expect("the first token works");

    // A watch opened with the first token.
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let version = config_maps
        .list(&ListParams::default())
        .await
        .expect("list")
        .metadata
        .resource_version
        .expect("a list's resourceVersion");
    let mut watch = config_maps
        .watch(&WatchParams::default(), &version)
        .await
        .expect("watch")
        .boxed();

    // A token the server does not know: the very next request of this client is refused…
    slot.set(&bearer("not-a-token")).expect("a header value");
    let refused = namespaces.list(&ListParams::default()).await.unwrap_err();
    assert!(
        matches!(&refused, kube::Error::Api(s) if s.code == 401),
        "{refused:?}"
    );
    // …and a valid new one is used by the next.
    slot.set(&bearer(second.expose())).expect("a header value");
    namespaces
        .list(&ListParams::default())
        .await
        .expect("the refreshed token works");

    // The watch opened before the changes still delivers.
    let admin: Api<ConfigMap> = Api::namespaced(sim.client().expect("admin client"), "default");
    let mut made = ConfigMap::default();
    made.metadata.name = Some("after-refresh".into());
    admin
        .create(&PostParams::default(), &made)
        .await
        .expect("create");
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), watch.try_next())
        .await
        .expect("an event within 10 s")
        .expect("no watch error")
        .expect("the watch is open");
    assert!(
        matches!(&event, WatchEvent::Added(cm) if cm.metadata.name.as_deref() == Some("after-refresh")),
        "{event:?}"
    );
}
