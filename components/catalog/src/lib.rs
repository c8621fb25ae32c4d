//! catalog: the DTaaS service catalogue — the seven platform services, their compose and
//! container names, aliases, display names, data/log dirs, default images and capabilities —
//! and the one selector parser every command uses for `-s/--services`.
//!
//! It knows nothing of Docker, files or configuration values; it is pure data.

mod selector;
mod service;

pub use selector::{CatalogError, parse_install_selector, parse_selector};
pub use service::Service;
