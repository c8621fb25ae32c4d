//! Which published port of a service a user opens, and its URL.

use catalog::Service;
use lifecycle::PublishedPort;

/// The container port of the service's main endpoint (the web UI or the server port).
#[must_use]
pub fn main_port(service: Service) -> u16 {
    match service {
        Service::RabbitMq => 15671,
        Service::MongoDb => 27017,
        Service::Grafana => 3000,
        Service::InfluxDb => 8086,
        Service::Postgres => 5432,
        Service::ThingsBoard => 8080,
        Service::GitLab => 443,
    }
}

/// The URL of one published port, as a user on another machine opens it
/// (`https://HOSTNAME:8084/` for RabbitMQ's management UI); `None` for a port with no
/// well-known protocol.
#[must_use]
pub fn port_url(
    service: Service,
    port: &PublishedPort,
    hostname: &str,
    tb_scheme: &str,
) -> Option<String> {
    let h = host_for_url(port.host_ip.as_deref().unwrap_or(hostname));
    let p = port.host_port;
    let url = match (service, port.container_port, port.protocol) {
        (Service::RabbitMq, 15671, _)
        | (Service::Grafana, 3000, _)
        | (Service::InfluxDb, 8086, _) => format!("https://{h}:{p}/"),
        (Service::RabbitMq, 5671, _) => format!("amqps://{h}:{p}"),
        (Service::RabbitMq | Service::ThingsBoard, 8883, _) => format!("mqtts://{h}:{p}"),
        (Service::ThingsBoard, 1883, _) => format!("mqtt://{h}:{p}"),
        (Service::ThingsBoard, 8080, _) => format!("{tb_scheme}://{h}:{p}/"),
        (Service::ThingsBoard, 5683..=5688, "udp") => format!("coap://{h}:{p}"),
        (Service::MongoDb, 27017, _) => format!("mongodb://{h}:{p}/?tls=true"),
        (Service::Postgres, 5432, _) => format!("postgresql://{h}:{p}/"),
        (Service::GitLab, 443, _) => format!("https://{h}:{p}/gitlab/"),
        (Service::GitLab, 22, _) => format!("ssh://git@{h}:{p}"),
        _ => return None,
    };
    Some(url)
}

/// Brackets around an IPv6 address.
fn host_for_url(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(container_port: u16, host_port: u16, protocol: &'static str) -> PublishedPort {
        PublishedPort {
            host_ip: None,
            host_port,
            container_port,
            protocol,
        }
    }

    #[test]
    fn urls_follow_the_service_and_container_port() {
        let u = |s, c, h, proto| port_url(s, &port(c, h, proto), "dtaas.example", "https");
        assert_eq!(
            u(Service::RabbitMq, 15671, 8084, "tcp").as_deref(),
            Some("https://dtaas.example:8084/")
        );
        assert_eq!(
            u(Service::GitLab, 443, 8090, "tcp").as_deref(),
            Some("https://dtaas.example:8090/gitlab/")
        );
        assert_eq!(
            u(Service::Postgres, 5432, 5432, "tcp").as_deref(),
            Some("postgresql://dtaas.example:5432/")
        );
        assert_eq!(
            u(Service::ThingsBoard, 5683, 5683, "udp").as_deref(),
            Some("coap://dtaas.example:5683")
        );
        assert_eq!(u(Service::ThingsBoard, 7070, 7070, "tcp"), None);
        let bound = PublishedPort {
            host_ip: Some("::1".into()),
            ..port(8080, 8089, "tcp")
        };
        assert_eq!(
            port_url(Service::ThingsBoard, &bound, "h", "http").as_deref(),
            Some("http://[::1]:8089/")
        );
    }
}
