//! Password store integration tests, each against SQLite and PostgreSQL
//! (`DTAAS_TEST_PG_URL`, see store's test support).

mod forget;
mod legacy;
mod secrets;
