//! services_mongodb: user provisioning in MongoDB by running `mongosh` in the project's
//! MongoDB container (found through its compose labels, never a fixed container name)
//! through the docker component's `Engine` — per CSV user a user with `readWrite` on a
//! database of the same name.
//!
//! No secret is ever on the exec's command line: the admin login and the user's password go
//! in the exec's environment, the script (which holds only names) on its stdin. It never
//! prints and never reads environment variables.

mod provisioner;
mod script;

pub use provisioner::{EngineExec, MongoExec, MongoOptions, MongoProvisioner, SYSTEM_DATABASES};
pub use script::{Script, argv};
