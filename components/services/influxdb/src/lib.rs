//! services_influxdb: user provisioning in InfluxDB 2 through its v2 HTTP API with the
//! operator token — per CSV user a user (password set through the API), an org of the same
//! name, owner membership in it, and a bucket of the same name. The admin user
//! (`INFLUXDB_ADMIN_USERNAME`) is never touched.
//!
//! It never prints and never reads environment variables; the token and passwords stay
//! `SecretString`s and never reach an error message.

mod provisioner;
mod token;

pub use provisioner::{InfluxDbOptions, InfluxDbProvisioner};
pub use token::token_from_influx_configs;
