//! CLI tests of `dtaas-jobs` (one test binary): usage and configuration errors, leases
//! between two processes, and service-health on the real Docker engine.

mod daemon;
mod fixture;
mod lease;
mod live;
mod usage;
