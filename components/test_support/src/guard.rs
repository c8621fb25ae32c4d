use std::process::Command;

/// Removes everything a test created on the engine when dropped: containers and volumes
/// labelled with the compose project, and the listed networks.
#[derive(Debug)]
pub struct ProjectGuard {
    pub project: String,
    pub networks: Vec<String>,
    pub containers: Vec<String>,
}

impl ProjectGuard {
    /// Guard the compose project `project` and the networks named `networks`.
    #[must_use]
    pub fn new(project: &str, networks: &[&str]) -> ProjectGuard {
        ProjectGuard {
            project: project.to_owned(),
            networks: networks.iter().map(|s| (*s).to_owned()).collect(),
            containers: Vec::new(),
        }
    }

    /// Also remove the container named `name` (one made outside the project).
    pub fn container(&mut self, name: &str) {
        self.containers.push(name.to_owned());
    }
}

fn docker_lines(args: &[&str]) -> Vec<String> {
    Command::new("docker")
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl Drop for ProjectGuard {
    fn drop(&mut self) {
        let filter = format!("label=com.docker.compose.project={}", self.project);
        let mut ids = docker_lines(&["ps", "-aq", "--filter", &filter]);
        ids.extend(self.containers.iter().cloned());
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f", "-v"];
            args.extend(ids.iter().map(String::as_str));
            let _ = Command::new("docker").args(&args).output();
        }
        let mut nets = docker_lines(&["network", "ls", "-q", "--filter", &filter]);
        nets.extend(self.networks.iter().cloned());
        for n in nets {
            let _ = Command::new("docker").args(["network", "rm", &n]).output();
        }
        for v in docker_lines(&["volume", "ls", "-q", "--filter", &filter]) {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f", &v])
                .output();
        }
    }
}
