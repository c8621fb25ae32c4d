//! `host setup`: plan every step first (reads only), check privileges, then apply step by
//! step with atomic writes. Unchanged files are never written.

mod apply;
mod names;
mod plan;
mod report;

use std::collections::BTreeMap;

use crate::error::CertsError;
use crate::options::CertsOptions;
use apply::Op;
use plan::Planner;

pub(crate) use names::{DERIVED, le_split, scan_source};
pub use report::{Action, Aspect, FileReport, SetupReport, Step, StepReport};

/// Runs `host setup` as the current process (root decided by the effective uid).
pub fn host_setup(opts: &CertsOptions) -> Result<SetupReport, CertsError> {
    host_setup_as(opts, nix::unistd::geteuid().is_root())
}

/// [`host_setup`] with the privilege decided by the caller: when `is_root` is false and a
/// file needs another owner (and `skip_chown` is off), it fails with
/// [`CertsError::NeedsRoot`] before changing anything.
pub fn host_setup_as(opts: &CertsOptions, is_root: bool) -> Result<SetupReport, CertsError> {
    let root = safe_fs::Dir::open_root(&opts.project_dir)
        .map_err(|e| CertsError::read(&opts.project_dir, e))?;
    let mut planner = Planner {
        opts,
        root,
        certs: opts.certs_dir(),
        copied: BTreeMap::new(),
    };
    let plan = planner.plan()?;

    let mut needs_root = Vec::new();
    if !is_root && !opts.skip_chown {
        let euid = nix::unistd::geteuid().as_raw();
        let egid = nix::unistd::getegid().as_raw();
        needs_root = plan
            .iter()
            .flat_map(|s| &s.ops)
            .flat_map(|op| op.chown_targets(euid, egid))
            .collect();
        if !needs_root.is_empty() && !opts.dry_run {
            return Err(CertsError::NeedsRoot { paths: needs_root });
        }
    }

    let mut finished = Vec::new();
    let mut steps = Vec::new();
    for planned in plan {
        if !opts.dry_run {
            for op in &planned.ops {
                op.apply(&planner.root)
                    .map_err(|e| CertsError::StepFailed {
                        step: planned.step,
                        finished: finished.clone(),
                        source: Box::new(e),
                    })?;
            }
        }
        finished.push(planned.step);
        steps.push(StepReport {
            step: planned.step,
            files: planned.ops.iter().map(Op::report).collect(),
            notes: planned.notes,
        });
    }
    Ok(SetupReport {
        dry_run: opts.dry_run,
        steps,
        needs_root,
    })
}

#[cfg(test)]
mod tests;
