//! CLI tests of `service status`, `service logs`, `doctor` and start progress, on the real
//! Docker engine with the local busybox test image (unique project, container names and
//! ports per test; everything removed by the guard).

mod certs_refresh;
mod doctor;
mod e2e_upstream;
mod logs;
mod progress;
mod secrets_live;
mod status;
mod support;
