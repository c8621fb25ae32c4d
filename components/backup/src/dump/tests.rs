use super::*;

/// A script as `pg_dumpall` 16.10+ writes it (abridged): restricted globals, then each
/// database's `pg_dump --create` output with its `\connect` bracketed by
/// `\unrestrict`/`\restrict`, and COPY data holding backslashes.
const GENUINE: &str = r#"--
-- PostgreSQL database cluster dump
--

\restrict K3yOfTheGlobals

SET default_transaction_read_only = off;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;

CREATE ROLE dtaas;
ALTER ROLE dtaas WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS PASSWORD 'SCRAM-SHA-256$4096:abc$def:ghi';
CREATE ROLE kept_user;
ALTER ROLE kept_user WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS;

\unrestrict K3yOfTheGlobals

--
-- Databases
--

\connect template1

\restrict K3yOfTemplate1
SET statement_timeout = 0;
\unrestrict K3yOfTemplate1

\restrict K3yOfE2edb
CREATE DATABASE e2edb WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8';
ALTER DATABASE e2edb OWNER TO dtaas;

\unrestrict K3yOfE2edb
\connect e2edb
\restrict K3yOfE2edb

CREATE FUNCTION public.f() RETURNS text LANGUAGE plpgsql AS $_$
BEGIN
  RETURN '\! not a command';
END $_$;
COMMENT ON TABLE public.kept IS 'a path C:\temp\';
CREATE TABLE public.kept (v text CHECK (v ~ E'^\\d*\'?$'));
/* a comment \! with /* nesting */ still \o comment */
COPY public.kept (v) FROM stdin;
survives
\! id > /etc/ssl/x
with\ttab\\and \N
\.

\unrestrict K3yOfE2edb
"#;

fn lex(script: &str) -> Result<(Vec<Piece>, BTreeSet<String>), BackupError> {
    let mut s = Script::new(
        script.as_bytes(),
        Path::new("postgres.sql"),
        u64::MAX,
        Some("dtaas"),
    );
    let mut pieces = Vec::new();
    loop {
        match s.next_piece()? {
            Piece::End => return Ok((pieces, s.creates)),
            p => pieces.push(p),
        }
    }
}

fn refused(script: &str) -> (u64, String) {
    match lex(script) {
        Err(BackupError::DumpRefused { line, reason, .. }) => (line, reason),
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn a_genuine_pg_dumpall_script_passes() {
    let (pieces, creates) = lex(GENUINE).unwrap();
    assert_eq!(creates, BTreeSet::from(["e2edb".to_owned()]));
    let connects: Vec<_> = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Connect(db) => Some(db.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(connects, ["template1", "e2edb"]);
    // The bootstrap role's CREATE ROLE is left out, the other role's is fed.
    let fed: String = pieces
        .iter()
        .filter_map(|p| match p {
            Piece::Feed(l) => Some(String::from_utf8_lossy(l).into_owned()),
            _ => None,
        })
        .collect();
    assert!(!fed.contains("CREATE ROLE dtaas;"), "{fed}");
    assert!(fed.contains("CREATE ROLE kept_user;"));
    assert!(fed.contains("ALTER ROLE dtaas WITH SUPERUSER"));
    // COPY data is fed as data, and no backslash command line is.
    assert!(fed.contains("\\! id > /etc/ssl/x\n"));
    assert!(!fed.contains("\\connect") && !fed.contains("\\restrict"));
}

#[test]
fn a_shell_escape_is_refused_with_its_line() {
    let script = "SET client_encoding = 'UTF8';\n\\! id > /etc/ssl/x\nSELECT 1;\n";
    let (line, reason) = refused(script);
    assert_eq!(line, 2);
    assert!(
        reason.starts_with("\\! is not a command a pg_dumpall script holds"),
        "{reason}"
    );
    let err = lex(script).unwrap_err().to_string();
    assert_eq!(
        err,
        "postgres.sql: line 2: \\! is not a command a pg_dumpall script holds (\\connect, \\restrict, \\unrestrict); nothing was restored"
    );
}

#[test]
fn every_other_backslash_command_is_refused() {
    for cmd in [
        "\\o /tmp/out",
        "\\copy t from program 'id'",
        "\\i /etc/passwd",
        "\\ir x.sql",
        "\\set ON_ERROR_STOP 0",
        "\\gexec",
        "\\w /tmp/q",
        "\\setenv PAGER id",
        "\\cd /",
        "\\lo_import /etc/shadow",
        "\\c other",
        "\\encoding SJIS",
        "\\;",
    ] {
        let (line, _) = refused(&format!("SELECT 1;\n{cmd}\n"));
        assert_eq!(line, 2, "{cmd}");
    }
}

#[test]
fn a_command_after_sql_on_the_same_line_is_refused() {
    let (line, reason) = refused("SELECT 1; \\! id\n");
    assert_eq!(line, 1);
    assert!(reason.contains("inside a statement"), "{reason}");
    let (line, _) = refused("SELECT 1\n\\! id\n;\n");
    assert_eq!(line, 2);
}

#[test]
fn restricted_mode_allows_only_its_unrestrict() {
    let (line, reason) = refused("\\restrict abc\n\\connect x\n");
    assert_eq!(line, 2);
    assert!(reason.contains("after \\restrict"), "{reason}");
    let (line, _) = refused("\\restrict abc\n\\unrestrict abd\n");
    assert_eq!(line, 2);
    let (line, _) = refused("\\unrestrict abc\n");
    assert_eq!(line, 1);
    let (line, _) = refused("\\restrict a-b\n");
    assert_eq!(line, 1);
    lex("\\restrict abc\nSELECT 1;\n\\unrestrict abc\n\\connect x\n").unwrap();
}

#[test]
fn connect_names_one_database_never_a_connection_string() {
    let ok = |args: &str| connect_target(args);
    assert_eq!(ok("e2edb").as_deref(), Some("e2edb"));
    assert_eq!(ok("\"My \"\"Db\"\"\"").as_deref(), Some("My \"Db\""));
    assert_eq!(
        ok("-reuse-previous=on \"dbname='my-db'\"").as_deref(),
        Some("my-db")
    );
    assert_eq!(
        ok("-reuse-previous=on \"dbname='it\\'s'\"").as_deref(),
        Some("it's")
    );
    for bad in [
        "\"host=evil.example dbname=x\"",
        "\"postgresql://evil.example/x\"",
        "-reuse-previous=on \"dbname=x host=evil.example\"",
        "-reuse-previous=on \"dbname='x' host=evil.example\"",
        "x y",
        "`id`",
        "-",
        "\"\"",
        "x:y",
    ] {
        assert_eq!(ok(bad), None, "{bad}");
    }
}

#[test]
fn backslashes_in_literals_comments_and_copy_data_are_not_commands() {
    for script in [
        "SELECT 'a\\';\n",
        "SELECT E'\\'; \\\\! id';\n",
        "SELECT $$ \\! id $$;\n",
        "SELECT $body$\n\\! id\n$body$;\n",
        "/* \\! id\n\\! id */ SELECT 1;\n",
        "-- \\! id\n",
        "SELECT \"a\\\";\n",
        "SELECT 'x\n\\! id\n';\n",
        "COPY t (v) FROM stdin;\n\\! id\n\\.\n",
        "copy t from STDIN with (format csv);\n\\o x\n\\.\n",
    ] {
        lex(script).unwrap_or_else(|e| panic!("{script:?}: {e}"));
    }
}

#[test]
fn a_command_after_the_end_of_copy_data_is_refused() {
    let (line, _) = refused("COPY t (v) FROM stdin;\nx\n\\.\n\\! id\n");
    assert_eq!(line, 4);
    // COPY … TO stdout reads no data.
    let (line, _) = refused("COPY t TO stdout;\n\\! id\n");
    assert_eq!(line, 2);
    // Two COPY on one line: two data blocks.
    let (line, _) =
        refused("COPY a FROM stdin; COPY b FROM stdin;\n\\! a\n\\.\n\\! b\n\\.\n\\! c\n");
    assert_eq!(line, 6);
}

#[test]
fn a_script_larger_than_the_manifest_says_is_refused() {
    let mut s = Script::new(&b"SELECT 1;\nSELECT 2;\n"[..], Path::new("d"), 12, None);
    assert!(matches!(s.next_piece(), Ok(Piece::Feed(_))));
    let err = s.next_piece().unwrap_err();
    assert!(
        err.to_string().contains("unpacks to more than 12 bytes"),
        "{err}"
    );
}

#[test]
fn identifiers_are_read_as_pg_dump_writes_them() {
    assert_eq!(sql_identifier("e2edb WITH").as_deref(), Some("e2edb"));
    assert_eq!(
        sql_identifier("\"Mixed\"\"Q\" WITH").as_deref(),
        Some("Mixed\"Q")
    );
    assert_eq!(sql_identifier("Upper"), None);
    assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
}
