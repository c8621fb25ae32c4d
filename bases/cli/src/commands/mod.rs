//! One module per noun; each handler resolves what it needs, calls one component function
//! and prints the result through the printer.

pub(crate) mod certs;
pub(crate) mod config;
pub(crate) mod data;
pub(crate) mod db;
pub(crate) mod doctor;
pub(crate) mod history;
pub(crate) mod host;
pub(crate) mod journal;
pub(crate) mod lock;
pub(crate) mod mode;
pub(crate) mod project;
pub(crate) mod secrets;
pub(crate) mod service;
pub(crate) mod shell;
pub(crate) mod status;
pub(crate) mod swarm;
pub(crate) mod user;
