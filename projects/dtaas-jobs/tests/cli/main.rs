//! CLI tests of `dtaas-jobs` (one test binary): usage and configuration errors, leases
//! between two processes, TLS to a remote engine, and service-health on the real Docker
//! engine.

mod daemon;
mod docker_tls;
mod fixture;
mod lease;
mod live;
mod swarm_mode;
mod usage;
