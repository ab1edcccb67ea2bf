//! The cluster a run measures: the one a kubeconfig names, or a simulated one started in this
//! process (the `dev` build) when none is named.

use anyhow::{Context as _, Result, bail};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;

use super::BenchArgs;

/// A connected cluster with Flotilla's CRDs in place.
pub struct Cluster {
    pub client: kube::Client,
    /// The API server's address.
    pub server: String,
    /// What the API server says it runs (`gitVersion`).
    pub version: String,
    /// Whether it is a simulated cluster in this process.
    pub embedded: bool,
    #[cfg(feature = "dev")]
    _simulator: Option<flotilla_sim::SimCluster>,
}

impl Cluster {
    /// Connects to the cluster `args` name; without `--kubeconfig` or `--context`, starts a
    /// simulated one (with a kubelet when `kubelet`, so that pods run).
    pub async fn connect(args: &BenchArgs, kubelet: bool) -> Result<Cluster> {
        if args.kubeconfig.is_some() || args.context.is_some() {
            let config =
                crate::credentials::config(args.kubeconfig.as_deref(), args.context.clone(), false)
                    .await?;
            let server = config.cluster_url.to_string();
            let client = kube::Client::try_from(config)?;
            return Cluster::ready(client, server, false).await;
        }
        Cluster::embedded(kubelet).await
    }

    #[cfg(feature = "dev")]
    async fn embedded(kubelet: bool) -> Result<Cluster> {
        let simulator = crate::sandbox::start_cluster("bench", kubelet).await?;
        let client = simulator.client()?;
        crate::sandbox::install(&client)
            .await
            .context("installing Flotilla's manifests into the simulated cluster")?;
        let mut cluster = Cluster::ready(client, simulator.url().to_string(), true).await?;
        cluster._simulator = Some(simulator);
        Ok(cluster)
    }

    #[cfg(not(feature = "dev"))]
    async fn embedded(_kubelet: bool) -> Result<Cluster> {
        bail!(
            "no cluster named: give --kubeconfig or --context (this build has no simulator to \
             measure instead; the `dev` build of flotilla has)"
        )
    }

    async fn ready(client: kube::Client, server: String, embedded: bool) -> Result<Cluster> {
        let version = client
            .apiserver_version()
            .await
            .with_context(|| format!("asking {server} for its version"))?
            .git_version;
        let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
        match crds.get_opt("workflows.argoproj.io").await {
            Ok(Some(_)) => {}
            Ok(None) => bail!(
                "{server} has no workflows.argoproj.io CustomResourceDefinition: install \
                 Flotilla's first (flotilla crd | kubectl apply -f -)"
            ),
            // Reading CRDs may be forbidden to whoever benchmarks; submitting will tell.
            Err(kube::Error::Api(e)) if e.code == 403 => {}
            Err(e) => return Err(e).context("looking for the workflows.argoproj.io CRD"),
        }
        Ok(Cluster {
            client,
            server,
            version,
            embedded,
            #[cfg(feature = "dev")]
            _simulator: None,
        })
    }
}
