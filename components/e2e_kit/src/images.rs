use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::KitError;

/// The tags of the local test images, built (or found up to date) by [`ensure_images`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSet {
    /// Debian 12 minbase from debootstrap (`dtaas-test/debian:bookworm`).
    pub base: String,
    /// PostgreSQL from Debian's packages with the upstream entrypoint conventions.
    pub postgres: String,
    /// RabbitMQ from Debian's packages with the upstream conventions.
    pub rabbitmq: String,
    /// busybox-static, for throw-away helper containers.
    pub busybox: String,
    /// The stand-ins for the services that cannot run here (`images/standins/`), by compose
    /// service: `mongodb`, `grafana`, `influxdb`, `thingsboard`, `gitlab`. They listen on
    /// the service's ports and pass the compose files' healthchecks exactly when they do.
    pub standins: BTreeMap<String, String>,
}

/// The compose services that run as stand-ins, with their `<SERVICE>_IMAGE` keys.
pub(crate) const STANDINS: &[(&str, &str)] = &[
    ("mongodb", "MONGODB_IMAGE"),
    ("grafana", "GRAFANA_IMAGE"),
    ("influxdb", "INFLUXDB_IMAGE"),
    ("thingsboard", "THINGSBOARD_IMAGE"),
    ("gitlab", "GITLAB_IMAGE"),
];

/// The repository's `images/` directory (recipes and `build.sh`).
#[must_use]
pub fn images_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../images")
}

static IMAGES: OnceLock<Result<ImageSet, String>> = OnceLock::new();

/// Build the local test images when their recipes changed (`images/build.sh`: cached by a
/// recipe-hash label, serialised across processes with flock) and return their tags. Runs
/// the script at most once per process; the first build takes about two minutes.
///
/// # Errors
/// [`KitError::Images`] when the build fails (it needs root, `debootstrap` and a Debian
/// mirror; the script's own messages are on stderr).
pub fn ensure_images() -> Result<ImageSet, KitError> {
    IMAGES
        .get_or_init(build_all)
        .clone()
        .map_err(KitError::Images)
}

fn build_all() -> Result<ImageSet, String> {
    let script = images_dir().join("build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} exited with {}", script.display(), out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tags = parse_tags(&stdout)?;
    let busybox = test_support::busybox_image().to_owned();
    Ok(ImageSet { busybox, ..tags })
}

/// `name=tag` lines as printed by `images/build.sh`.
fn parse_tags(stdout: &str) -> Result<ImageSet, String> {
    let tag = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('=').map(str::to_owned))
            .ok_or_else(|| format!("images/build.sh printed no tag for {name}:\n{stdout}"))
    };
    let (base, postgres, rabbitmq) = (tag("base")?, tag("postgres")?, tag("rabbitmq")?);
    let mut standins = BTreeMap::new();
    for (service, _) in STANDINS {
        standins.insert((*service).to_owned(), tag(service)?);
    }
    Ok(ImageSet {
        base,
        postgres,
        rabbitmq,
        busybox: String::new(),
        standins,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_read_from_the_script_output() {
        let set = parse_tags(
            "base=a:1\npostgres=b:2\nrabbitmq=c:3\nmongodb=m:1\ngrafana=g:1\n\
             influxdb=i:1\nthingsboard=t:1\ngitlab=l:1\n",
        )
        .unwrap();
        assert_eq!(set.standins.len(), 5);
        assert_eq!(set.standins["thingsboard"], "t:1");
        assert_eq!(
            (
                set.base.as_str(),
                set.postgres.as_str(),
                set.rabbitmq.as_str()
            ),
            ("a:1", "b:2", "c:3")
        );
        let err = parse_tags("base=a:1\n").unwrap_err();
        assert!(err.contains("no tag for postgres"), "{err}");
    }

    #[test]
    fn the_images_dir_holds_the_recipes() {
        let d = images_dir();
        for f in [
            "build.sh",
            "base/build.sh",
            "postgres/Dockerfile",
            "rabbitmq/Dockerfile",
            "standins/Dockerfile",
            "standins/bin/standin-serve",
        ] {
            assert!(d.join(f).is_file(), "{} missing", d.join(f).display());
        }
    }
}
