//! services_rabbitmq: user provisioning in RabbitMQ through its management HTTP API — per
//! CSV user a user without tags, a vhost of the same name and full permissions on it —
//! with the `RABBITMQ_ADMIN_USERNAME` login. A changed password is found from the state
//! database's fingerprint, or (when unknown) by asking `GET /api/whoami` with the user's own
//! credentials; no secret ever goes on a command line.
//!
//! It never prints and never reads environment variables.

mod provisioner;

pub use provisioner::{RabbitMqOptions, RabbitMqProvisioner};
