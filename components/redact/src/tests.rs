use super::*;

#[test]
fn the_issue_url_shows_no_part_of_its_password() {
    let shown = url("postgres://h:1/db?user=u&password=Secret@Tail");
    assert_eq!(shown, "postgres://h:1/db?user=u&password=***");
    assert!(
        !shown.contains("Secret") && !shown.contains("Tail"),
        "{shown}"
    );
}

#[test]
fn userinfo_passwords_and_secret_parameters_are_masked() {
    for (raw, shown) in [
        (
            "postgres://dtaas:s3cret@db.example:5432/state?sslmode=require",
            "postgres://dtaas:***@db.example:5432/state?sslmode=require",
        ),
        (
            "postgres://db/state?user=a&sslpassword=s3cret&password=x",
            "postgres://db/state?user=a&sslpassword=***&password=***",
        ),
        (
            "https://gitlab.example/api?private_token=glpat-1&access_token=a&page=2",
            "https://gitlab.example/api?private_token=***&access_token=***&page=2",
        ),
        ("postgres://a@db/x", "postgres://a@db/x"),
        ("unix:///var/run/docker.sock", "unix:///var/run/docker.sock"),
        ("tcp://10.0.0.1:2376", "tcp://10.0.0.1:2376"),
        (
            "ssh://deploy:hunter2@build.example",
            "ssh://deploy:***@build.example",
        ),
        ("https://h/x#token=abc", "https://h/x#***"),
    ] {
        assert_eq!(url(raw), shown, "{raw}");
    }
}

#[test]
fn what_does_not_parse_is_not_shown() {
    for raw in [
        "s3cret",
        "postgres://u:pa/ss@db/x",
        "postgres://u:p@ss#x@db:99999/x",
        "postgres://u:pa?ss@db/x",
    ] {
        let shown = url(raw);
        assert!(
            !shown.contains("pa") && !shown.contains("ss") && !shown.contains("s3cret"),
            "{raw} -> {shown}"
        );
    }
    assert_eq!(url("s3cret"), "<not shown: not a valid URL>");
    assert_eq!(
        url("postgres://u:pa/ss@db/x"),
        "postgres://<not shown: not a valid URL>"
    );
}

#[test]
fn every_url_inside_a_message_is_redacted() {
    let msg = "error sending request for url (https://admin:Pw-1@h:15672/api/whoami?token=T0k), \
               then postgres://h:1/db?user=u&password=Secret@Tail failed; see file:///tmp/x.";
    let shown = text(msg);
    assert_eq!(
        shown,
        "error sending request for url (https://admin:***@h:15672/api/whoami?token=***), \
         then postgres://h:1/db?user=u&password=*** failed; see file:///tmp/x."
    );
    assert_eq!(text("no url here: a://"), "no url here: a://");
    assert_eq!(text("odd ://thing"), "odd ://thing");
}
