//! Leader election: one controller acts, the others keep their caches warm and wait.
//!
//! The lock is a `coordination.k8s.io` Lease held through `kube-lease-manager` (server-side
//! apply conflicts decide who takes a free lease). On top of it this module keeps its own
//! watchdog, because the manager goes on believing it leads while its renewals fail: a replica
//! counts as leading only while it has *seen* its own renewal in the Lease (through a watch) within
//! the last `duration - grace/2` seconds. If the API server stops answering, the leader stops
//! acting before any other replica may take the lease over (`duration` after the last renewal).

use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::coordination::v1::Lease;
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client};
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

/// How the controller takes part in leader election.
#[derive(Debug, Clone)]
pub struct Election {
    /// The Lease's name (in `namespace`).
    pub lease: String,
    pub namespace: String,
    /// This replica's identity in the Lease (`holderIdentity`): its pod name, made unique.
    pub identity: String,
    /// How long a lease lasts after its last renewal.
    pub duration: Duration,
    /// How long before expiry the holder renews.
    pub grace: Duration,
}

impl Election {
    /// The Lease Argo's convention would name: one per controller instance ID.
    pub fn lease_name(instance_id: Option<&str>) -> String {
        match instance_id {
            Some(id) => format!("flotilla-workflow-controller-{id}"),
            None => "flotilla-workflow-controller".to_owned(),
        }
    }

    /// How long this replica may still act after seeing its renewal made at `renewed` (by its
    /// own clock): until half the grace before the lease expires, so until past the renewal
    /// after it is due (`duration - grace`), and never beyond what is left of the lease.
    fn trusted_for(&self, renewed: jiff::Timestamp) -> Duration {
        let age = Duration::try_from(jiff::Timestamp::now().duration_since(renewed))
            .unwrap_or(Duration::ZERO);
        self.duration
            .saturating_sub(self.grace / 2)
            .saturating_sub(age)
    }
}

/// Whether this replica leads, as a value that changes.
#[derive(Debug, Clone)]
pub struct Leadership {
    leading: watch::Receiver<bool>,
    /// The identity this replica holds the lease as (`None` without an election).
    identity: Option<String>,
}

impl Leadership {
    /// No election: this controller always leads (`--leader-elect=false`).
    pub fn always() -> Leadership {
        let (tx, leading) = watch::channel(true);
        // The receiver keeps the value after the sender is gone.
        drop(tx);
        Leadership {
            leading,
            identity: None,
        }
    }

    /// Takes part in `election` until the returned candidate resigns (or is dropped).
    pub fn elect(client: Client, election: Election) -> (Leadership, Candidate) {
        let (tx, leading) = watch::channel(false);
        let (resign, resigned) = tokio::sync::oneshot::channel();
        let identity = Some(election.identity.clone());
        let task = tokio::spawn(campaign(client, election, tx, resigned));
        (Leadership { leading, identity }, Candidate { resign, task })
    }

    pub fn is_leading(&self) -> bool {
        *self.leading.borrow()
    }

    /// The identity this replica holds the lease as, `None` without an election.
    pub fn identity(&self) -> Option<&str> {
        self.identity.as_deref()
    }

    /// Resolves once this replica does not lead (at once if it does not now; never without
    /// an election).
    pub async fn lost(&self) {
        let mut leading = self.leading.clone();
        if leading.wait_for(|leads| !leads).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// This replica's part in an election; [`Candidate::resign`] hands the lease over.
#[derive(Debug)]
pub struct Candidate {
    resign: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Candidate {
    /// Releases the lease (so a standby takes over at once, not after it expires) and stops.
    pub async fn resign(self) {
        let _ = self.resign.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// Why a term of the election ended.
#[derive(Debug, thiserror::Error)]
enum TermError {
    #[error(transparent)]
    Manager(#[from] kube_lease_manager::LeaseManagerError),
    #[error("the lease manager stopped")]
    ManagerStopped,
    #[error("the watch of the lease ended")]
    WatchEnded,
}

/// Runs terms of the election until resigned, publishing whether this replica leads.
async fn campaign(
    client: Client,
    election: Election,
    tx: watch::Sender<bool>,
    mut resigned: tokio::sync::oneshot::Receiver<()>,
) {
    let mut retry = Duration::from_secs(1);
    loop {
        let Err(e) = term(&client, &election, &tx, &mut resigned).await else {
            tx.send_replace(false);
            return;
        };
        tx.send_replace(false);
        warn!(lease = %election.lease, error = %e, retry_in = ?retry, "leader election interrupted; not leading");
        tokio::select! {
            _ = &mut resigned => return,
            () = tokio::time::sleep(retry) => {}
        }
        retry = (retry * 2).min(Duration::from_secs(30));
    }
}

/// One term: a lease manager and the watch of the lease, until resigned (`Ok`) or broken.
async fn term(
    client: &Client,
    election: &Election,
    tx: &watch::Sender<bool>,
    resigned: &mut tokio::sync::oneshot::Receiver<()>,
) -> Result<(), TermError> {
    let manager = LeaseManagerBuilder::new(client.clone(), &election.lease)
        .with_namespace(&election.namespace)
        .with_identity(&election.identity)
        .with_duration(election.duration.as_secs())
        .with_grace(election.grace.as_secs())
        .with_field_manager(format!("flotilla-leader-{}", election.identity))
        .build()
        .await?;
    let (mut holds, manager_task) = manager.watch().await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &election.namespace);
    let renewals = watcher(
        leases,
        watcher::Config::default().fields(&format!("metadata.name={}", election.lease)),
    )
    .default_backoff()
    .applied_objects();
    let mut renewals = std::pin::pin!(renewals);
    let mut last_renewal: Option<jiff::Timestamp> = None;
    let mut trusted_until: Option<Instant> = None;
    loop {
        let leads = *holds.borrow() && trusted_until.is_some_and(|t| Instant::now() < t);
        if *tx.borrow() != leads {
            if leads {
                info!(lease = %election.lease, identity = %election.identity, "became the leader");
            } else {
                warn!(lease = %election.lease, identity = %election.identity, "not the leader: stopped acting");
            }
            tx.send_replace(leads);
            crate::health::set_leading(leads);
        }
        let deadline = trusted_until
            .filter(|_| leads)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            _ = &mut *resigned => {
                tx.send_replace(false);
                // Dropping the receiver makes the manager release the lease and end.
                drop(holds);
                let _ = manager_task.await;
                return Ok(());
            }
            changed = holds.changed() => {
                if changed.is_err() {
                    let _ = manager_task.await;
                    return Err(TermError::ManagerStopped);
                }
            }
            lease = renewals.next() => match lease {
                Some(Ok(lease)) => {
                    let spec = lease.spec.unwrap_or_default();
                    let mine = spec.holder_identity.as_deref() == Some(election.identity.as_str());
                    match spec.renew_time.map(|t| t.0) {
                        Some(renewed) if mine && Some(renewed) != last_renewal => {
                            last_renewal = Some(renewed);
                            trusted_until = Some(Instant::now() + election.trusted_for(renewed));
                        }
                        Some(_) if mine => {}
                        _ => trusted_until = None,
                    }
                }
                Some(Err(e)) => warn!(lease = %election.lease, error = %e, "watching the lease failed"),
                None => return Err(TermError::WatchEnded),
            },
            () = tokio::time::sleep_until(deadline) => {
                // No renewal seen in time: the next turn of the loop stops acting.
                trusted_until = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn election(duration: u64, grace: u64) -> Election {
        Election {
            lease: "l".into(),
            namespace: "ns".into(),
            identity: "me".into(),
            duration: Duration::from_secs(duration),
            grace: Duration::from_secs(grace),
        }
    }

    #[test]
    fn a_renewal_is_trusted_until_half_the_grace_before_the_lease_ends() {
        let e = election(15, 5);
        let now = jiff::Timestamp::now();
        let fresh = e.trusted_for(now);
        assert!(fresh <= Duration::from_millis(12_500) && fresh > Duration::from_secs(12));
        let old = e.trusted_for(now - jiff::SignedDuration::from_secs(10));
        assert!(old <= Duration::from_millis(2_500) && old > Duration::from_secs(2));
        assert_eq!(
            e.trusted_for(now - jiff::SignedDuration::from_secs(20)),
            Duration::ZERO
        );
        // A renewal stamped ahead of this clock is trusted no longer than a fresh one.
        assert!(
            e.trusted_for(now + jiff::SignedDuration::from_secs(30))
                <= Duration::from_millis(12_500)
        );
    }

    #[test]
    fn the_lease_is_named_per_instance_id() {
        assert_eq!(Election::lease_name(None), "flotilla-workflow-controller");
        assert_eq!(
            Election::lease_name(Some("blue")),
            "flotilla-workflow-controller-blue"
        );
    }

    #[tokio::test]
    async fn without_an_election_the_controller_always_leads_and_never_loses() {
        let always = Leadership::always();
        assert!(always.is_leading());
        assert_eq!(always.identity(), None);
        let lost = tokio::time::timeout(Duration::from_millis(50), always.lost()).await;
        assert!(lost.is_err(), "lost() resolved without an election");
    }
}
