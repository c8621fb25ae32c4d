//! The list's status text as the engine writes it. Upstream: github.com/moby/moby v20.10.24
//! container/state.go `State.String` and github.com/docker/go-units v0.4.0 duration.go
//! `HumanDuration`.

use super::Listed;

fn listed(status: &str) -> Listed {
    Listed {
        published: Vec::new(),
        status: status.to_owned(),
    }
}

#[test]
fn uptime_is_read_from_the_up_text_in_every_unit() {
    for (text, secs) in [
        ("Up Less than a second", 0),
        ("Up 1 second", 1),
        ("Up 45 seconds (health: starting)", 45),
        ("Up About a minute", 60),
        ("Up 5 minutes (healthy)", 300),
        ("Up About an hour (unhealthy)", 3600),
        ("Up 47 hours", 47 * 3600),
        ("Up 3 days", 3 * 86_400),
        ("Up 2 weeks", 14 * 86_400),
        ("Up 4 months", 120 * 86_400),
        ("Up 2 years", 730 * 86_400),
        ("Up 5 minutes (Paused)", 300),
    ] {
        assert_eq!(listed(text).uptime_secs(), Some(secs), "{text}");
    }
}

#[test]
fn no_uptime_unless_up() {
    for text in [
        "Exited (0) 5 minutes ago",
        "Restarting (1) 3 seconds ago",
        "Created",
        "Dead",
        "Removal In Progress",
        "",
        "Up sometime",
    ] {
        assert_eq!(listed(text).uptime_secs(), None, "{text}");
    }
}

#[test]
fn exit_code_is_read_from_exited_and_restarting() {
    assert_eq!(listed("Exited (137) 2 hours ago").exit_code(), Some(137));
    assert_eq!(
        listed("Exited (0) Less than a second ago").exit_code(),
        Some(0)
    );
    assert_eq!(listed("Restarting (1) 3 seconds ago").exit_code(), Some(1));
    assert_eq!(listed("Up 5 minutes").exit_code(), None);
    assert_eq!(listed("Created").exit_code(), None);
}
