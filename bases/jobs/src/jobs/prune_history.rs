//! `prune-history`: keep the newest `JOBS_HISTORY_KEEP` execution records of every job.

use store::Store;

use crate::job::{JobName, JobOutput};

/// One pass of prune-history.
///
/// # Errors
/// The state database fails.
pub(crate) async fn run(store: &Store, keep: u32) -> anyhow::Result<JobOutput> {
    let mut out = JobOutput::default();
    let mut total = 0u64;
    for job in JobName::ALL {
        let n = store.prune_executions(job.as_str(), keep).await?;
        if n > 0 {
            out.actions
                .push(format!("{job}: {n} old execution records deleted"));
        }
        total += n;
    }
    out.summary = format!("{total} records deleted, the newest {keep} per job kept");
    Ok(out)
}
