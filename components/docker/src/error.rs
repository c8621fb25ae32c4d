/// What went wrong talking to the Docker engine, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerError {
    /// The engine did not answer (no socket, connection refused, TLS or ssh failure).
    #[error("cannot reach the Docker engine at {host}: {reason}")]
    EngineUnreachable { host: String, reason: String },
    /// The object (container, network, volume, image, exec) does not exist.
    #[error("{what} not found: {message}")]
    NotFound { what: String, message: String },
    /// The engine refused because of the object's state or a name clash.
    #[error("conflict: {message}")]
    Conflict { message: String },
    /// A published host port is already taken.
    #[error("{}", port_allocated_message(*port, holder.as_deref()))]
    PortAllocated { port: u16, holder: Option<String> },
    /// The image is not present locally and could not be pulled.
    #[error("image {image} is not available locally and could not be pulled: {reason}")]
    ImageMissing { image: String, reason: String },
    /// Any other engine error, with the engine's message.
    #[error("Docker error: {message}")]
    Other { message: String },
}

fn port_allocated_message(port: u16, holder: Option<&str>) -> String {
    match holder {
        Some(h) => format!("host port {port} is already in use (by container {h})"),
        None => format!("host port {port} is already in use"),
    }
}

impl DockerError {
    /// Whether this is [`DockerError::NotFound`].
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, DockerError::NotFound { .. })
    }

    /// Whether this is [`DockerError::EngineUnreachable`].
    #[must_use]
    pub fn is_unreachable(&self) -> bool {
        matches!(self, DockerError::EngineUnreachable { .. })
    }
}

/// Find the host port in an engine message about a port clash.
///
/// Docker says `Bind for 0.0.0.0:8083 failed: port is already allocated` when another
/// container holds the port, and `listen tcp4 0.0.0.0:8083: bind: address already in use`
/// when another process does.
pub(crate) fn parse_port_clash(message: &str) -> Option<u16> {
    let port_after_colon = |s: &str| -> Option<u16> {
        let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    if message.contains("port is already allocated") {
        let start = message.find("Bind for ")? + "Bind for ".len();
        let rest = &message[start..];
        let end = rest.find(" failed")?;
        let addr = &rest[..end];
        return port_after_colon(&addr[addr.rfind(':')? + 1..]);
    }
    if message.contains("address already in use") {
        let before = &message[..message.find(": bind: address already in use")?];
        return port_after_colon(&before[before.rfind(':')? + 1..]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_clash_messages_name_the_port() {
        let m = "driver failed programming external connectivity on endpoint x (abc): Bind for 0.0.0.0:8083 failed: port is already allocated";
        assert_eq!(parse_port_clash(m), Some(8083));
        let m = "driver failed programming external connectivity on endpoint x (abc): Error starting userland proxy: listen tcp4 127.0.0.1:40123: bind: address already in use";
        assert_eq!(parse_port_clash(m), Some(40123));
        let m = "Bind for [::]:5683 failed: port is already allocated";
        assert_eq!(parse_port_clash(m), Some(5683));
        assert_eq!(parse_port_clash("no such container"), None);
    }

    #[test]
    fn messages() {
        insta::assert_snapshot!(DockerError::PortAllocated { port: 8083, holder: Some("grafana".into()) }, @"host port 8083 is already in use (by container grafana)");
        insta::assert_snapshot!(DockerError::EngineUnreachable { host: "unix:///nonexistent".into(), reason: "No such file or directory".into() }, @"cannot reach the Docker engine at unix:///nonexistent: No such file or directory");
    }
}
