//! services_mongodb: user provisioning in MongoDB by running `mongosh` in the project's
//! MongoDB container (found through its compose labels, never a fixed container name)
//! through the docker component's `Engine` — per CSV user a user with `readWrite` on a
//! database of the same name.
//!
//! mongosh runs non-interactively (`--eval`: a thrown error, such as a refused admin login,
//! ends it with exit status 1; a script on stdin would run in its REPL, which ignores errors
//! and prefixes every output line with its prompt). No secret is ever on the exec's command
//! line: the admin login and the user's password go in the exec's environment and the script
//! (which holds only names) reads them from `process.env`. The scripts print names only,
//! never a user document. HOME is `/tmp` for every run (the mongo image's HOME is the data
//! directory, where mongosh would write its logs). It never prints and never reads
//! environment variables.

mod provisioner;
mod script;

pub use provisioner::{EngineExec, MongoExec, MongoOptions, MongoProvisioner, SYSTEM_DATABASES};
pub use script::{MONGOSH_HOME, Script, argv};
