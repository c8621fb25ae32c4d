//! credentials: reading and validating `config/credentials.csv`, the list of platform users
//! (`username,password[,email]`) that `user add` provisions in every service.
//!
//! The whole file is checked before anything is changed: a missing header, empty fields,
//! invalid or duplicate usernames, duplicate emails and names a selected service cannot use
//! are all collected, each with its line number, into one [`CredentialsError::Invalid`].
//! Passwords are `SecretString`s and never appear in Debug output or error text. It knows
//! nothing of how users are provisioned, never prints and never reads environment variables.

mod error;
mod read;
mod rules;

pub use error::{CredentialsError, Problem};
pub use read::{Credential, Credentials, parse, read};
pub use rules::{check_username, service_problem};
