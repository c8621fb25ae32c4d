//! credentials.csv reading: accepted forms and every rejected input, with line numbers.

use catalog::Service;
use credentials::{CredentialsError, parse, read};
use secrecy::ExposeSecret as _;

const ALL: &[Service] = &[
    Service::InfluxDb,
    Service::RabbitMq,
    Service::MongoDb,
    Service::Postgres,
    Service::Grafana,
];

fn err(text: &str, services: &[Service]) -> String {
    match parse(text.as_bytes(), "config/credentials.csv", services) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn template_file_is_read_by_column_name() {
    let text = "username,password,email\nuser1,choopog0ithoJ6x,user1@example.org\nuser2,deeYeijoowoo8ze,user2@example.org\n";
    let c = parse(text.as_bytes(), "c.csv", ALL).unwrap();
    let names: Vec<_> = c
        .rows()
        .iter()
        .map(|r| (r.line, r.username.as_str()))
        .collect();
    assert_eq!(names, [(2, "user1"), (3, "user2")]);
    assert_eq!(c.rows()[1].password.expose_secret(), "deeYeijoowoo8ze");
    assert_eq!(c.rows()[0].email.as_deref(), Some("user1@example.org"));
}

#[test]
fn bom_quotes_trimming_column_order_and_no_email() {
    let text = "\u{feff} Password , USERNAME \r\n\" p,a\"\"ss1 \" ,  alice \r\n\r\nbobs-pass-9, bob.smith\r\n";
    let c = parse(
        text.as_bytes(),
        "c.csv",
        &[Service::Postgres, Service::RabbitMq],
    )
    .unwrap();
    assert_eq!(c.rows().len(), 2);
    assert_eq!(c.rows()[0].username, "alice");
    assert_eq!(c.rows()[0].password.expose_secret(), "p,a\"ss1");
    assert_eq!(c.rows()[0].email, None);
    assert_eq!(c.rows()[1].username, "bob.smith");
    assert_eq!(c.rows()[1].line, 4);
    assert!(c.find("bob.smith").is_some());
}

#[test]
fn missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = read(&dir.path().join("credentials.csv"), ALL).unwrap_err();
    assert!(matches!(e, CredentialsError::Io { .. }), "{e}");
}

#[test]
fn empty_file() {
    insta::assert_snapshot!(err("", ALL), @"
    config/credentials.csv is invalid (1 problem); nothing was changed:
      the file is empty; expected a header username,password[,email]
    ");
}

#[test]
fn header_missing() {
    insta::assert_snapshot!(err("user1,secret-pass-1,u1@example.org\n", ALL), @r#"
    config/credentials.csv is invalid (1 problem); nothing was changed:
      line 1: the first line must be a header naming the columns username,password[,email]; found "user1,secret-pass-1,u1@example.org"
    "#);
}

#[test]
fn duplicate_header_column() {
    insta::assert_snapshot!(err("username,password,username\nu1,secret-pass-1,u1\n", ALL), @r#"
    config/credentials.csv is invalid (1 problem); nothing was changed:
      line 1: the header names the column "username" twice
    "#);
}

#[test]
fn every_row_problem_is_reported_with_its_line() {
    let text = "username,password,email\n\
        user1,secret-pass-1,user1@example.org\n\
        ,secret-pass-2,x@example.org\n\
        user3,,user3@example.org\n\
        User1,secret-pass-4,other@example.org\n\
        user5,secret-pass-5,USER1@example.org\n\
        -bad,secret-pass-6,b6@example.org\n\
        semi;colon,secret-pass-7,b7@example.org\n\
        user8,secret-pass-8,not-an-email\n\
        user9,secret-pass-9,u9@example.org,extra\n\
        aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,secret-pass-10,b10@example.org\n";
    insta::assert_snapshot!(err(text, ALL), @r#"
    config/credentials.csv is invalid (9 problems); nothing was changed:
      line 3: the username is empty
      line 4: the password of "user3" is empty
      line 5: username "User1" is already used on line 2
      line 6: email "USER1@example.org" is already used on line 2
      line 7: username "-bad" must start with a letter or a digit
      line 8: username "semi;colon" contains ';'; use only letters, digits, '_', '.' and '-'
      line 9: email "not-an-email" is not an address (local@domain)
      line 10: 4 fields, but the header has 3
      line 11: username "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" is longer than 63 characters
    "#);
}

#[test]
fn service_rules() {
    let text = "username,password,email\n\
        first.last,secret-pass-1,a@example.org\n\
        pg_admin,secret-pass-2,b@example.org\n\
        short,short,c@example.org\n\
        public,secret-pass-4,d@example.org\n";
    insta::assert_snapshot!(err(text, ALL), @r#"
    config/credentials.csv is invalid (4 problems); nothing was changed:
      line 2: MongoDB database names cannot contain '.': rename "first.last"
      line 3: PostgreSQL reserves the role name "pg_admin"
      line 4: InfluxDB needs passwords of at least 8 characters (user "short")
      line 5: PostgreSQL reserves the role name "public"
    "#);
    // The same file is fine for RabbitMQ alone.
    assert_eq!(
        parse(text.as_bytes(), "c.csv", &[Service::RabbitMq])
            .unwrap()
            .rows()
            .len(),
        4
    );
}

#[test]
fn email_required_by_thingsboard_and_gitlab() {
    insta::assert_snapshot!(
        err("username,password\nu1,secret-pass-1\n", &[Service::ThingsBoard, Service::GitLab]),
        @"
    config/credentials.csv is invalid (2 problems); nothing was changed:
      line 1: ThingsBoard needs an email for every user: add an email column
      line 1: GitLab needs an email for every user: add an email column
    "
    );
    insta::assert_snapshot!(
        err("username,password,email\nu1,secret-pass-1,\n", &[Service::GitLab]),
        @r#"
    config/credentials.csv is invalid (1 problem); nothing was changed:
      line 2: the email of "u1" is empty
    "#
    );
}

#[test]
fn invalid_utf8_is_reported_with_its_line() {
    let mut bytes = b"username,password\nu1,secret-pass-1\nu2,pass\xff-2x\n".to_vec();
    bytes.extend_from_slice(b"u3,secret-pass-3\n");
    let e = parse(&bytes, "config/credentials.csv", &[])
        .unwrap_err()
        .to_string();
    insta::assert_snapshot!(e, @"
    config/credentials.csv is invalid (1 problem); nothing was changed:
      line 3: the password is not valid UTF-8
    ");
}

#[test]
fn messages_never_hold_passwords() {
    let text = "username,password,email\nbad name,TopSecretValue1,x@example.org\nu2,TopSecretValue2,x@example.org\nshort,Tiny1,s@example.org\n";
    let e = err(text, ALL);
    assert!(!e.contains("TopSecretValue"), "{e}");
    assert!(!e.contains("Tiny1"), "{e}");
}

#[test]
fn an_unterminated_quote_is_an_error_naming_its_line() {
    for (text, line) in [
        (
            "username,password,email\nuser1,ok-pass-1,a@example.org\nuser3,\"unterminated,x@example.org\n",
            "line 3",
        ),
        (
            "username,password,email\nuser3,\"open,x@example.org\nuser4,pass-four-4,d@example.org\n",
            "line 2",
        ),
    ] {
        let msg = err(text, ALL);
        assert!(msg.contains(line), "{msg}");
        assert!(msg.contains("unterminated quote"), "{msg}");
    }
}
