//! Kubernetes credentials for the commands: a kubeconfig (file and context), or — for the
//! controller running in a pod — the in-cluster configuration.

use std::path::Path;

/// Why no client could be built; names the file or the context at fault.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("reading kubeconfig {path}: {message}")]
    Read { path: String, message: String },
    #[error("using the kubeconfig: {0}")]
    Config(String),
    #[error("finding Kubernetes credentials (in-cluster or kubeconfig): {0}")]
    Infer(String),
}

/// A client from `kubeconfig` (default: `$KUBECONFIG` or `~/.kube/config`) and `context`
/// (default: its current one). With `in_cluster` and neither given, the in-cluster configuration
/// is tried first, as `kube::Config::infer` does.
pub async fn client(
    kubeconfig: Option<&Path>,
    context: Option<String>,
    in_cluster: bool,
) -> Result<kube::Client, CredentialsError> {
    let config = config(kubeconfig, context, in_cluster).await?;
    kube::Client::try_from(config).map_err(|e| CredentialsError::Config(e.to_string()))
}

/// The configuration [`client`] builds its client from.
pub async fn config(
    kubeconfig: Option<&Path>,
    context: Option<String>,
    in_cluster: bool,
) -> Result<kube::Config, CredentialsError> {
    let options = kube::config::KubeConfigOptions {
        context,
        ..Default::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let kc =
                kube::config::Kubeconfig::read_from(path).map_err(|e| CredentialsError::Read {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| CredentialsError::Config(e.to_string()))?
        }
        None if in_cluster && options.context.is_none() => kube::Config::infer()
            .await
            .map_err(|e| CredentialsError::Infer(e.to_string()))?,
        None => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| CredentialsError::Config(e.to_string()))?,
    };
    Ok(config)
}
