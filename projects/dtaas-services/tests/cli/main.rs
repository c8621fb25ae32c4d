//! End-to-end tests of the `dtaas-services` binary that need no Docker engine: the grammar,
//! legacy aliases, exit codes, `project generate` and `config`.

mod certs;
mod exclusion;
mod gitlab_install;
mod grammar;
mod orchestrator;
mod project_config;
mod secret_input;
mod secrets_in_output;
mod support;
mod user_guard;
