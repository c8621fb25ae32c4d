//! e2e_kit: dev-only helpers for end-to-end tests on the local Docker engine with real
//! service images.
//!
//! It builds, with no container registry, local images of PostgreSQL and RabbitMQ that
//! honour the upstream images' conventions (recipes and the cached builder live in the
//! repository's `images/` directory, with stand-ins for the other five services), and it
//! generates throw-away projects with the real `dtaas-services` binary, each with its own
//! host name (so its own compose project), container prefix, network and free ports,
//! removed again when the [`TestProject`] drops. It knows nothing about how the services
//! are provisioned: it only shells out to `docker`, `docker compose` and the binary.
//! [`TestSwarm`] starts a two-node Docker Swarm of inner engines of its own (never the
//! shared engine), driven through the `docker` component's bollard adapter.
//! [`OfflineImage`] builds a binary's offline image (`make images`) under a throw-away tag.
//! Only for `[dev-dependencies]`: it may print why a live test was skipped.

mod error;
mod images;
mod live;
mod offline_image;
mod project;
mod swarm;

pub use error::KitError;
pub use images::{ImageSet, ensure_images, images_dir};
pub use live::{engine_or_skip, live_or_skip, workspace_bin};
pub use offline_image::OfflineImage;
pub use project::TestProject;
pub use swarm::{SwarmEngine, TestSwarm};
