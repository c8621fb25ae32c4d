//! exit_status: the one exit-status policy of both binaries. [`ExitStatus`] names every
//! status a command can end with (0 success, 1 failed, 2 usage or configuration, 3 not
//! ready yet, 4 Docker engine unreachable, 5 busy); [`of_error`] is the one mapping from an
//! error (its whole source chain) to a status. Components classify their errors
//! (`is_usage`, `is_not_ready`, `docker()`); only this crate turns a classification into a
//! number.

mod classify;
mod status;

pub use classify::of_error;
pub use status::ExitStatus;

#[cfg(test)]
mod tests;
