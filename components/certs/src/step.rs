//! The steps of `host setup` (what its report and its errors name).

use std::fmt;

use serde::Serialize;

/// The steps of `host setup`, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    CopyCertificates,
    Mongodb,
    Influxdb,
    Rabbitmq,
    Postgres,
    Thingsboard,
    Grafana,
}

impl Step {
    /// All steps in the order they run.
    pub const ALL: [Step; 7] = [
        Step::CopyCertificates,
        Step::Mongodb,
        Step::Influxdb,
        Step::Rabbitmq,
        Step::Postgres,
        Step::Thingsboard,
        Step::Grafana,
    ];

    /// The human label ("Configuring MongoDB").
    pub fn label(self) -> &'static str {
        match self {
            Step::CopyCertificates => "Copying certificates",
            Step::Mongodb => "Configuring MongoDB",
            Step::Influxdb => "Configuring InfluxDB",
            Step::Rabbitmq => "Configuring RabbitMQ",
            Step::Postgres => "Configuring PostgreSQL",
            Step::Thingsboard => "Configuring ThingsBoard",
            Step::Grafana => "Configuring Grafana",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}
