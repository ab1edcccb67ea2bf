//! Leader election: one controller acts, the others keep their caches warm and wait.
//!
//! The lock is a `coordination.k8s.io` Lease held through `kube-lease-manager` (server-side
//! apply conflicts decide who takes a free lease). On top of it this module keeps its own
//! watchdog, because the manager goes on believing it leads while its renewals fail: a replica
//! counts as leading only while it has *seen* its own renewal land in the Lease (through a
//! watch), timely after the one before or after its acquisition, within `duration - grace/2` of
//! it ([`Watchdog`]). If the API server stops answering, the leader stops acting before any
//! other replica may take the lease over (`duration` after the last renewal).

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
        // An election whose task has ended (it never does but by a panic) leads no more.
        let ended = self.identity.is_some() && self.leading.has_changed().is_err();
        *self.leading.borrow() && !ended
    }

    /// The identity this replica holds the lease as, `None` without an election.
    pub fn identity(&self) -> Option<&str> {
        self.identity.as_deref()
    }

    /// One item each time this replica starts leading, once `ready` holds (its caches have
    /// listed, so that everything a standby passed over is in them); nothing without an
    /// election, where the controller leads from the start.
    pub fn acquired(
        &self,
        ready: impl Fn() -> bool + Send + 'static,
    ) -> futures::stream::BoxStream<'static, ()> {
        if self.identity.is_none() {
            return futures::stream::empty().boxed();
        }
        futures::stream::unfold(
            (self.leading.clone(), true, ready),
            |(mut leading, first, ready)| async move {
                // Every change is seen, however quickly it was undone: a lead lost and taken
                // again between two looks is a new term, whose workflows are all looked at.
                if !(first && *leading.borrow_and_update()) {
                    loop {
                        leading.changed().await.ok()?;
                        if *leading.borrow_and_update() {
                            break;
                        }
                    }
                }
                while !ready() {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Some(((), (leading, false, ready)))
            },
        )
        .boxed()
    }

    /// Resolves once this replica does not lead (at once if it does not now; never without
    /// an election).
    pub async fn lost(&self) {
        let mut leading = self.leading.clone();
        if leading.wait_for(|leads| !leads).await.is_err() && self.identity.is_none() {
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
    /// Not a failure: the term starts again at once with a fresh manager (one that has slept
    /// until a holder's lease expiry would not see a release before then).
    #[error("{0}")]
    Restart(&'static str),
}

/// Publishes whether this replica leads, to the controller and to `/readyz`.
fn publish(tx: &watch::Sender<bool>, election: &Election, leads: bool) {
    if *tx.borrow() == leads {
        return;
    }
    if leads {
        info!(lease = %election.lease, identity = %election.identity, "became the leader");
    } else {
        warn!(lease = %election.lease, identity = %election.identity, "not the leader: stopped acting");
    }
    tx.send_replace(leads);
    crate::health::set_leading(leads);
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
        let started = Instant::now();
        let outcome = term(&client, &election, &tx, &mut resigned).await;
        publish(&tx, &election, false);
        let pause = match outcome {
            Ok(()) => return,
            Err(TermError::Restart(why)) => {
                info!(lease = %election.lease, why, "leader election starts again");
                Duration::from_millis(200)
            }
            Err(e) => {
                if started.elapsed() > election.duration * 2 {
                    retry = Duration::from_secs(1);
                }
                warn!(lease = %election.lease, error = %e, retry_in = ?retry, "leader election interrupted; not leading");
                let pause = retry;
                retry = (retry * 2).min(Duration::from_secs(30));
                pause
            }
        };
        tokio::select! {
            _ = &mut resigned => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// What this replica last saw of the Lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Nothing yet in this term.
    Nothing,
    /// Held by another replica.
    Other,
    /// Free: no holder (released, or never taken).
    Free,
    /// Held by this replica, renewed at this time (by its own clock).
    Mine(jiff::Timestamp),
}

/// Decides, from the Lease as a watch delivers it, until when this replica may act.
///
/// Its own renewal is trusted only when it follows a state that cannot have let another
/// replica take the lease: the acquisition itself (after the lease was seen held by another or
/// free), or a renewal stamped within `duration - grace/2` of the one before. A renewal that
/// lands late — after another replica may have judged the lease expired and begun to release it
/// (kube-lease-manager releases an expired lease unconditionally) — is not trusted; the next
/// timely one is. The first renewal seen in a term is not trusted either, for the same reason.
#[derive(Debug)]
struct Watchdog {
    seen: Seen,
    trusted_until: Option<Instant>,
}

impl Watchdog {
    fn new() -> Watchdog {
        Watchdog {
            seen: Seen::Nothing,
            trusted_until: None,
        }
    }

    fn trusted(&self, now: Instant) -> bool {
        self.trusted_until.is_some_and(|t| now < t)
    }

    /// Takes in the Lease (`None`: deleted) seen at `now`.
    fn observe(
        &mut self,
        election: &Election,
        lease: Option<&k8s_openapi::api::coordination::v1::LeaseSpec>,
        now: Instant,
    ) -> Result<(), TermError> {
        let Some(spec) = lease else {
            self.trusted_until = None;
            self.seen = Seen::Nothing;
            return Err(TermError::Restart("the lease was deleted"));
        };
        let holder = spec.holder_identity.as_deref().unwrap_or_default();
        // The shorter of this replica's duration and the one the Lease says, which is what
        // the other replicas go by.
        let duration = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs)
            .map_or(election.duration, |d| d.min(election.duration));
        let election = Election {
            duration,
            ..election.clone()
        };
        if holder != election.identity {
            self.trusted_until = None;
            let before = std::mem::replace(
                &mut self.seen,
                if holder.is_empty() {
                    Seen::Free
                } else {
                    Seen::Other
                },
            );
            if holder.is_empty() && before == Seen::Other {
                return Err(TermError::Restart("the lease was released"));
            }
            return Ok(());
        }
        let Some(renewed) = spec.renew_time.as_ref().map(|t| t.0) else {
            self.trusted_until = None;
            return Ok(());
        };
        let timely = match self.seen {
            Seen::Mine(before) if before == renewed => return Ok(()),
            Seen::Mine(before) => {
                let gap =
                    Duration::try_from(renewed.duration_since(before)).unwrap_or(Duration::MAX);
                gap <= election.duration.saturating_sub(election.grace / 2)
            }
            Seen::Other | Seen::Free => true,
            Seen::Nothing => false,
        };
        self.seen = Seen::Mine(renewed);
        self.trusted_until = timely.then(|| now + election.trusted_for(renewed));
        Ok(())
    }
}

/// One term: the watch of the lease (listed first, so that this replica's acquisition is seen
/// as one) and a lease manager, until resigned (`Ok`) or ended.
async fn term(
    client: &Client,
    election: &Election,
    tx: &watch::Sender<bool>,
    resigned: &mut tokio::sync::oneshot::Receiver<()>,
) -> Result<(), TermError> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), &election.namespace);
    let events = watcher(
        leases,
        watcher::Config::default().fields(&format!("metadata.name={}", election.lease)),
    )
    .default_backoff();
    let mut events = std::pin::pin!(events);
    let mut watchdog = Watchdog::new();
    // Whether the lease was in the (re-)list going on, and how many lists have ended.
    let mut in_list = false;
    let mut lists = 0u32;
    let mut apply = |watchdog: &mut Watchdog,
                     event: watcher::Event<Lease>,
                     now: Instant|
     -> Result<bool, TermError> {
        match event {
            watcher::Event::Init => in_list = false,
            watcher::Event::InitApply(lease) => {
                in_list = true;
                watchdog.observe(election, Some(&lease.spec.unwrap_or_default()), now)?;
            }
            watcher::Event::InitDone => {
                lists += 1;
                if !in_list && lists > 1 {
                    watchdog.observe(election, None, now)?;
                }
                return Ok(true);
            }
            watcher::Event::Apply(lease) => {
                watchdog.observe(election, Some(&lease.spec.unwrap_or_default()), now)?;
            }
            watcher::Event::Delete(_) => watchdog.observe(election, None, now)?,
        }
        Ok(false)
    };
    let mut listed = false;
    while !listed {
        match events.next().await {
            Some(Ok(event)) => listed = apply(&mut watchdog, event, Instant::now())?,
            Some(Err(e)) => warn!(lease = %election.lease, error = %e, "watching the lease failed"),
            None => return Err(TermError::WatchEnded),
        }
    }
    let field_manager: String = format!("flotilla-leader-{}", election.identity)
        .chars()
        .take(128)
        .collect();
    let manager = LeaseManagerBuilder::new(client.clone(), &election.lease)
        .with_namespace(&election.namespace)
        .with_identity(&election.identity)
        .with_duration(election.duration.as_secs())
        .with_grace(election.grace.as_secs())
        .with_field_manager(field_manager)
        .build()
        .await?;
    let (mut holds, manager_task) = manager.watch().await;
    loop {
        let now = Instant::now();
        publish(tx, election, *holds.borrow() && watchdog.trusted(now));
        let deadline = watchdog
            .trusted_until
            .filter(|_| *tx.borrow())
            .unwrap_or_else(|| now + Duration::from_secs(3600));
        tokio::select! {
            _ = &mut *resigned => {
                publish(tx, election, false);
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
            event = events.next() => match event {
                Some(Ok(event)) => {
                    if let Err(end) = apply(&mut watchdog, event, Instant::now()) {
                        publish(tx, election, false);
                        drop(holds);
                        let _ = manager_task.await;
                        return Err(end);
                    }
                }
                Some(Err(e)) => warn!(lease = %election.lease, error = %e, "watching the lease failed"),
                None => return Err(TermError::WatchEnded),
            },
            () = tokio::time::sleep_until(deadline) => {
                // No renewal seen in time: the next turn of the loop stops acting.
                watchdog.trusted_until = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

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

    fn spec(holder: &str, renewed: jiff::Timestamp, seconds: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: (!holder.is_empty()).then(|| holder.to_owned()),
            renew_time: Some(MicroTime(renewed)),
            lease_duration_seconds: Some(seconds),
            ..LeaseSpec::default()
        }
    }

    #[test]
    fn an_acquisition_is_trusted_a_first_sight_or_a_late_renewal_is_not() {
        let e = election(15, 5);
        let now = Instant::now();
        let t0 = jiff::Timestamp::now();
        let secs = |s: i64| jiff::SignedDuration::from_secs(s);

        // Taken from a free lease: trusted at once.
        let mut w = Watchdog::new();
        w.observe(&e, Some(&spec("", t0, 15)), now).unwrap();
        w.observe(&e, Some(&spec("me", t0, 15)), now).unwrap();
        assert!(w.trusted(now));
        // The same renewal again (a re-list) changes nothing; a timely one extends.
        w.observe(&e, Some(&spec("me", t0, 15)), now).unwrap();
        assert!(w.trusted(now));
        w.observe(&e, Some(&spec("me", t0 + secs(10), 15)), now)
            .unwrap();
        assert!(w.trusted(now));
        // A renewal 13 s after the one before (past 15 - 5/2): another replica may be
        // releasing the lease as expired. Not trusted; the next timely one is.
        w.observe(&e, Some(&spec("me", t0 + secs(23), 15)), now)
            .unwrap();
        assert!(!w.trusted(now));
        w.observe(&e, Some(&spec("me", t0 + secs(33), 15)), now)
            .unwrap();
        assert!(w.trusted(now) || jiff::Timestamp::now() > t0 + secs(45));

        // The first renewal seen in a term may be a late one of a term before.
        let mut w = Watchdog::new();
        w.observe(&e, Some(&spec("me", t0, 15)), now).unwrap();
        assert!(!w.trusted(now));
        w.observe(&e, Some(&spec("me", t0 + secs(10), 15)), now)
            .unwrap();
        assert!(w.trusted(now));
        // Another holder: not trusted.
        w.observe(&e, Some(&spec("other", t0 + secs(11), 15)), now)
            .unwrap();
        assert!(!w.trusted(now));
    }

    #[test]
    fn a_release_or_a_deletion_starts_a_new_term_and_the_leases_own_duration_counts() {
        let e = election(15, 5);
        let now = Instant::now();
        let t0 = jiff::Timestamp::now();
        let mut w = Watchdog::new();
        // A lease created free: the manager is about to take it; nothing to restart for.
        assert!(w.observe(&e, Some(&spec("", t0, 15)), now).is_ok());
        w.observe(&e, Some(&spec("other", t0, 15)), now).unwrap();
        assert!(matches!(
            w.observe(&e, Some(&spec("", t0, 15)), now),
            Err(TermError::Restart("the lease was released"))
        ));
        assert!(matches!(
            w.observe(&e, None, now),
            Err(TermError::Restart("the lease was deleted"))
        ));
        // A lease that says 6 s is trusted for 6 - 2.5 s, not 15 - 2.5 s.
        let mut w = Watchdog::new();
        w.observe(&e, Some(&spec("", t0, 6)), now).unwrap();
        w.observe(&e, Some(&spec("me", jiff::Timestamp::now(), 6)), now)
            .unwrap();
        let until = w.trusted_until.unwrap();
        assert!(
            until <= now + Duration::from_millis(3_500),
            "{:?}",
            until - now
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
