//! Data safety: the generated compose files keep every service's state on the host with a
//! stable identity (checked on the real templates), and — on the real engine with the
//! local PostgreSQL and RabbitMQ images — users survive recreation with a new image
//! reference, backups restore after the data is wiped, a corrupted archive is refused
//! before anything is touched, and an upgrade to an image that exits at once rolls back.

mod cli;
mod compose_state;
mod live;
