//! Store integration tests. Every data test runs against SQLite and against the PostgreSQL
//! server named by `DTAAS_TEST_PG_URL` (each test in its own schema).

mod concurrency;
mod data;
mod intent;
mod links;
mod open;
mod pg_admin;
