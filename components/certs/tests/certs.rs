//! Integration tests of the certs component: real files, real owners (the tests run as
//! root), certificates made by rcgen inside the tests.

#[path = "certs/check.rs"]
mod check;
#[path = "certs/links.rs"]
mod links;
#[path = "certs/refresh.rs"]
mod refresh;
#[path = "certs/self_signed.rs"]
mod self_signed;
#[path = "certs/setup.rs"]
mod setup;
#[path = "certs/support.rs"]
mod support;
