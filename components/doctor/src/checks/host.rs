//! The host: published ports, HOSTNAME, free disk under `data/`.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::path::Path;

use compose::Project;
use docker::{ContainerState, Engine, Protocol};

use super::{DNS_TIMEOUT, DoctorOptions};
use crate::{DoctorReport, Level};

/// Host ports the project's running containers publish, with the container name.
async fn our_ports<E: Engine>(engine: &E, project: &str) -> Vec<(u16, String)> {
    let list = engine
        .list_containers(&[("com.docker.compose.project", Some(project))])
        .await
        .unwrap_or_default();
    let mut out = Vec::new();
    for c in list
        .into_iter()
        .filter(|c| c.state == ContainerState::Running)
    {
        if let Ok(info) = engine.inspect_container(&c.id).await {
            let d = info.details.unwrap_or_default();
            for p in d.published.iter().chain(&d.ports) {
                if let Some(hp) = p.host_port {
                    out.push((hp, info.name.clone()));
                }
            }
        }
    }
    out
}

pub(super) async fn check_ports<E: Engine>(
    r: &mut DoctorReport,
    project: &Project,
    engine: Option<&E>,
) {
    let mut seen = BTreeSet::new();
    let mut ours: Option<Vec<(u16, String)>> = None;
    let mut fine = 0;
    for (name, def) in &project.services {
        for p in &def.ports {
            let Some(port) = p.host_port else { continue };
            if !seen.insert((port, p.protocol)) {
                continue;
            }
            let ip = p
                .host_ip
                .clone()
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| "0.0.0.0".to_owned());
            let bound = match p.protocol {
                Protocol::Udp => UdpSocket::bind((ip.as_str(), port)).map(drop),
                _ => TcpListener::bind((ip.as_str(), port)).map(drop),
            };
            match bound {
                Ok(()) => fine += 1,
                Err(e) if e.kind() == ErrorKind::AddrInUse => {
                    if ours.is_none() {
                        ours = Some(match engine {
                            Some(e) => our_ports(e, &project.name).await,
                            None => Vec::new(),
                        });
                    }
                    let holder = ours
                        .as_ref()
                        .and_then(|o| o.iter().find(|(hp, _)| *hp == port))
                        .map(|(_, c)| c.clone());
                    match holder {
                        Some(_) => fine += 1,
                        None => r.push(
                            "ports",
                            Level::Error,
                            format!("port {port}/{} of {name} is in use by another process", p.protocol),
                            Some(format!(
                                "stop the process holding it (ss -ltnp 'sport = :{port}'), or change {name}'s port in config/services.env"
                            )),
                        ),
                    }
                }
                Err(e) => r.push(
                    "ports",
                    Level::Warning,
                    format!("cannot test port {port}/{} of {name}: {e}", p.protocol),
                    (e.kind() == ErrorKind::PermissionDenied)
                        .then(|| "run doctor as root to test ports below 1024".to_owned()),
                ),
            }
        }
    }
    if !r.of("ports").any(|f| f.level == Level::Error) {
        r.push(
            "ports",
            Level::Ok,
            format!("{fine} published ports free or held by this project's containers"),
            None,
        );
    }
}

/// HOSTNAME resolves, within [`DNS_TIMEOUT`].
pub(super) async fn check_hostname(r: &mut DoctorReport, host: &str) {
    match tokio::time::timeout(DNS_TIMEOUT, tokio::net::lookup_host((host, 0))).await {
        Ok(Ok(mut addrs)) => match addrs.next() {
            Some(a) => r.push(
                "hostname",
                Level::Ok,
                format!("HOSTNAME {host} resolves to {}", a.ip()),
                None,
            ),
            None => r.push(
                "hostname",
                Level::Error,
                format!("HOSTNAME {host} has no address"),
                Some(dns_hint(host)),
            ),
        },
        Ok(Err(e)) => r.push(
            "hostname",
            Level::Error,
            format!("HOSTNAME {host} does not resolve: {e}"),
            Some(dns_hint(host)),
        ),
        Err(_) => r.push(
            "hostname",
            Level::Error,
            format!(
                "HOSTNAME {host}: no DNS answer within {}s",
                DNS_TIMEOUT.as_secs()
            ),
            Some(dns_hint(host)),
        ),
    }
}

fn dns_hint(host: &str) -> String {
    format!(
        "add a DNS record for {host}, or an /etc/hosts line for a local install; or change HOSTNAME in config/services.env"
    )
}

pub(super) fn check_disk(r: &mut DoctorReport, opts: &DoctorOptions<'_>, dir: &Path) {
    let data = dir.join("data");
    // data/ and each service's data dir: a service dir may be a mount of its own (a
    // separate disk, a tmpfs), so every distinct filesystem is checked once.
    let mut places = vec![if data.is_dir() { data } else { dir.to_owned() }];
    places.extend(
        catalog::Service::ALL
            .iter()
            .map(|s| dir.join(s.data_dir()))
            .filter(|p| p.is_dir()),
    );
    let mut seen = std::collections::BTreeSet::new();
    for at in places {
        match nix::sys::statvfs::statvfs(&at) {
            Ok(st) => {
                let dev = std::fs::metadata(&at)
                    .map(|m| std::os::unix::fs::MetadataExt::dev(&m))
                    .unwrap_or(0);
                if !seen.insert((dev, st.filesystem_id())) {
                    continue;
                }
                let frag = st.fragment_size();
                let free = st.blocks_available().saturating_mul(frag);
                let total = st.blocks().saturating_mul(frag).max(1);
                let percent = free.saturating_mul(100) / total;
                let text = format!(
                    "{} free of {} ({percent}%) under {}",
                    gib(free),
                    gib(total),
                    at.display()
                );
                if percent < opts.min_free_percent || free < opts.min_free_bytes {
                    r.push(
                        "disk",
                        Level::Warning,
                        format!("low disk space: {text}"),
                        Some("free space, or move the data to a larger disk".to_owned()),
                    );
                } else {
                    r.push("disk", Level::Ok, text, None);
                }
            }
            Err(e) => r.push(
                "disk",
                Level::Warning,
                format!("cannot read the free space of {}: {e}", at.display()),
                None,
            ),
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}
