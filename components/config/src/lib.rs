//! config: the settings of a DTaaS services project, layered with figment —
//! built-in defaults < `config/services.env` < `DTAAS_<KEY>` env vars < flags — resolved once
//! into validated [`Settings`]; plus the comment-preserving, atomic `services.env` editor.
//!
//! It never reads the process environment itself (the caller passes it in), never prints,
//! and never puts a secret value into Debug output or an error message.

mod envfile;
mod error;
mod fresh;
mod keys;
mod orchestrator;
mod project_name;
mod restore;
mod secret_input;
mod settings;

pub use envfile::EnvFile;
pub use error::ConfigError;
pub use fresh::replace_default_secrets;
pub use keys::{KEYS, KeySpec, Kind, key_spec, suggest};
pub use orchestrator::Orchestrator;
pub use project_name::project_name_from_hostname;
pub use restore::{Restored, backup, from_template, restore_key};
pub use secret_input::{STDIN_VALUE, ValueSource, read_value, value_source};
pub use settings::{
    ENV_PREFIX, LoadOptions, OTHER_ENV_PREFIXES, OTHER_ENV_VARS, Settings, Source, Warning,
    env_file_path, env_layer, is_other_env_var, load, resolve, validate,
};
