use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this test process and call: `<prefix>-<pid>-<n>-<nanos>`, lower case,
/// valid as a compose project, container or network name.
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{}-{}-{n}-{:x}",
        prefix.to_ascii_lowercase(),
        std::process::id(),
        nanos % 0xfffff
    )
}

/// A TCP port that was free on 127.0.0.1 a moment ago (the OS picked it).
///
/// # Panics
/// When no port can be bound.
#[must_use]
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_differ_and_are_lower_case() {
        let a = unique_name("T");
        let b = unique_name("T");
        assert_ne!(a, b);
        assert!(a.starts_with("t-"));
        assert!(free_port() > 0);
    }
}
