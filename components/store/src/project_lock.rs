//! The project lock: commands that change a project never interleave (issue 16).
//!
//! Locally it is `flock` on `<project>/.dtaas/project.lock` (opened without following a
//! symbolic link, 0600), whose content names the holder (command, pid, host, since). The
//! kernel drops the lock with the process, so a crashed holder never blocks. With a shared
//! PostgreSQL state database the lock is also a lease in the store (`leases`, name
//! [`PROJECT_LEASE`]), renewed while held and expiring [`LEASE_TTL`] after a crashed holder
//! stopped renewing it, so the exclusion holds across hosts.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::error::StoreError;
use crate::holder::Holder;
use crate::open::{BackendKind, Store};

/// The lock file, relative to the project directory.
pub const LOCK_FILE: &str = ".dtaas/project.lock";
/// The lease name of the project lock in a shared (PostgreSQL) state database.
pub const PROJECT_LEASE: &str = "project";
/// How long the project lease lasts without renewal (a crashed holder's lease expires then).
pub const LEASE_TTL: Duration = Duration::from_secs(60);
/// How often a waiting command looks again.
const POLL: Duration = Duration::from_millis(200);

/// The project lock, held until dropped or [`ProjectLock::release`]d.
#[derive(Debug)]
pub struct ProjectLock {
    file: File,
    lease: Option<LeaseGuard>,
}

#[derive(Debug)]
struct LeaseGuard {
    store: Store,
    holder: String,
    renewer: tokio::task::JoinHandle<()>,
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// The outcome of [`ProjectLock::try_acquire`].
#[derive(Debug)]
pub enum TryLock {
    Acquired(ProjectLock),
    /// Someone holds it: who, when it could be read.
    Busy(Option<Holder>),
}

/// Open the lock file without following a symbolic link (the one place that opens it, so
/// a shared no-follow helper can replace it).
fn open_lock_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() || meta.nlink() != 1 {
        return Err(io::Error::other(
            "not a regular file with a single link: refusing to use it as the lock file",
        ));
    }
    Ok(file)
}

/// `<project>/.dtaas`, created 0700 when missing; a symbolic link there is refused.
fn state_dir(project_dir: &Path) -> io::Result<PathBuf> {
    let dir = project_dir.join(".dtaas");
    match fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => Ok(dir),
        Ok(_) => Err(io::Error::other(
            "not a directory (a symbolic link is refused)",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => Ok(dir),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => state_dir(project_dir),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

fn io_err(path: PathBuf) -> impl FnOnce(io::Error) -> StoreError {
    move |source| StoreError::Io { path, source }
}

/// Who the lock file names (`None` while it is being written, or for a foreign file).
fn file_holder(file: &mut File) -> Option<Holder> {
    let mut raw = String::new();
    file.read_to_string(&mut raw).ok()?;
    Holder::decode(&raw)
}

impl ProjectLock {
    /// Take the project lock if it is free; never waits.
    ///
    /// # Errors
    /// The lock file cannot be created or opened ([`StoreError::Io`]), the shared state
    /// database fails.
    pub async fn try_acquire(
        project_dir: &Path,
        shared: Option<&Store>,
        holder: &Holder,
    ) -> Result<TryLock, StoreError> {
        let path = project_dir.join(LOCK_FILE);
        state_dir(project_dir).map_err(io_err(path.with_file_name("")))?;
        let mut file = open_lock_file(&path).map_err(io_err(path.clone()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Ok(TryLock::Busy(file_holder(&mut file))),
            Err(fs::TryLockError::Error(e)) => return Err(io_err(path)(e)),
        }
        file.set_len(0).map_err(io_err(path.clone()))?;
        file.write_all(holder.encode().as_bytes())
            .and_then(|()| file.flush())
            .map_err(io_err(path))?;
        let lease = match shared.filter(|s| s.kind() == BackendKind::Postgres) {
            None => None,
            Some(store) => match take_lease(store, holder).await? {
                Ok(guard) => Some(guard),
                Err(other) => return Ok(TryLock::Busy(other)),
            },
        };
        Ok(TryLock::Acquired(ProjectLock { file, lease }))
    }

    /// Take the project lock, waiting at most `wait` for its holder; `on_busy` is told who
    /// holds it once, when the first try finds it taken.
    ///
    /// # Errors
    /// [`StoreError::Busy`] once `wait` is over; the errors of [`ProjectLock::try_acquire`].
    pub async fn acquire(
        project_dir: &Path,
        shared: Option<&Store>,
        holder: &Holder,
        wait: Duration,
        on_busy: impl FnOnce(Option<&Holder>),
    ) -> Result<ProjectLock, StoreError> {
        let deadline = Instant::now() + wait;
        let mut on_busy = Some(on_busy);
        loop {
            match Self::try_acquire(project_dir, shared, holder).await? {
                TryLock::Acquired(lock) => return Ok(lock),
                TryLock::Busy(other) => {
                    if let Some(f) = on_busy.take() {
                        f(other.as_ref());
                    }
                    if Instant::now() >= deadline {
                        return Err(StoreError::Busy {
                            holder: other.map(|h| h.to_string()),
                            waited: wait,
                        });
                    }
                }
            }
            tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    /// Give the lock back now (the lease too, instead of letting it expire).
    pub async fn release(mut self) {
        if let Some(lease) = self.lease.take() {
            lease.renewer.abort();
            if let Err(e) = lease
                .store
                .release_lease(PROJECT_LEASE, &lease.holder)
                .await
            {
                tracing::warn!(error = %e, "project lease release failed (it expires by itself)");
            }
        }
        let _ = self.file.set_len(0);
        drop(self);
    }
}

/// Who holds the project lock now, without taking or waiting for it (`None`: free).
///
/// # Errors
/// The shared state database fails.
pub async fn project_lock_holder(
    project_dir: &Path,
    shared: Option<&Store>,
) -> Result<Option<Holder>, StoreError> {
    let path = project_dir.join(LOCK_FILE);
    if let Ok(mut file) = open_lock_file(&path)
        && matches!(file.try_lock(), Err(fs::TryLockError::WouldBlock))
    {
        return Ok(Some(file_holder(&mut file).unwrap_or_else(unknown_holder)));
    }
    if let Some(store) = shared.filter(|s| s.kind() == BackendKind::Postgres)
        && let Some(lease) = store.lease(PROJECT_LEASE).await?
        && lease.expires_at > SystemTime::now()
    {
        return Ok(Some(
            Holder::decode(&lease.holder).unwrap_or_else(unknown_holder),
        ));
    }
    Ok(None)
}

fn unknown_holder() -> Holder {
    Holder {
        command: "another command".to_owned(),
        pid: 0,
        host: "?".to_owned(),
        since: SystemTime::now(),
    }
}

/// Take the project lease and keep it renewed; `Err(holder)` when another holds it.
async fn take_lease(
    store: &Store,
    holder: &Holder,
) -> Result<Result<LeaseGuard, Option<Holder>>, StoreError> {
    let id = holder.encode();
    if store
        .try_acquire_lease(PROJECT_LEASE, &id, SystemTime::now(), LEASE_TTL)
        .await?
        .is_none()
    {
        let other = store
            .lease(PROJECT_LEASE)
            .await?
            .and_then(|l| Holder::decode(&l.holder));
        return Ok(Err(other));
    }
    let renewer = {
        let store = store.clone();
        let id = id.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEASE_TTL / 3).await;
                match store
                    .renew_lease(PROJECT_LEASE, &id, SystemTime::now(), LEASE_TTL)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!("the project lease was lost while held"),
                    Err(e) => tracing::warn!(error = %e, "project lease renewal failed"),
                }
            }
        })
    };
    Ok(Ok(LeaseGuard {
        store: store.clone(),
        holder: id,
        renewer,
    }))
}
