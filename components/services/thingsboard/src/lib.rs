//! services_thingsboard: the ThingsBoard CE flows — `service install -s thingsboard`
//! (schema probe over SQL, one-off installer with a time limit, final admin passwords set
//! right away, tenant and tenant admin), `user add -s thingsboard` as a [`Provisioner`]
//! (customers and activated customer users) and `user reset-password -s thingsboard` —
//! over the REST API through the shared client of services_common, with the current admin
//! passwords kept in the password store.
//!
//! It never prints (progress goes to a callback), never reads environment variables, and
//! never puts a password or token in an error, a log or Debug output.
//!
//! [`Provisioner`]: services_common::Provisioner

mod admin;
mod client;
mod config;
mod error;
mod install;
mod provisioner;

pub use admin::{EmailChange, PasswordChange, ResetReport, TenantSetup, ThingsBoard};
pub use client::{Created, Entity, Owner, TbClient, Token};
pub use config::{
    DEFAULT_SYSADMIN_EMAIL, DEFAULT_SYSADMIN_PASSWORD, LEGACY_TENANT_ADMIN_PASSWORD, TbConfig,
};
pub use error::ThingsBoardError;
pub use install::{
    InstallOptions, InstallReport, InstallerRun, SCHEMA_PROBE_TABLE, SchemaAction, configure,
    install, run_installer, schema_installed, secure_default_sysadmin, wait_api,
};
pub use provisioner::ThingsBoardProvisioner;
