//! service_probes: our own readiness probe of each DTaaS service and the URLs a user opens,
//! joined with lifecycle's container status into the `service status` view
//! ([`StatusView`], the documented `--json` shape, docs/status-json.md).
//!
//! Probes run in parallel, each bounded by a short timeout: PostgreSQL accepts a login,
//! RabbitMQ's management API reports a listener on the AMQPS port, InfluxDB `/health`,
//! Grafana `/api/health`, ThingsBoard `/api/noauth/userPasswordPolicy`, GitLab's sign-in
//! page (its `/-/readiness` answers only loopback clients), MongoDB accepts a TCP
//! connection. It knows nothing of the terminal and never prints; secrets (admin passwords
//! used by the probes) stay `SecretString`s and never appear in a result.

mod endpoints;
mod probe;
mod view;

pub use endpoints::{main_port, port_url};
pub use probe::{Probe, ProbeResult, ProbeSettings, ProbeState, run_probe};
pub use view::{PortView, ServiceView, StatusView, status_view, status_view_of};

#[cfg(test)]
mod gitlab_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod view_tests;
