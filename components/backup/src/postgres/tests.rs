use std::io::Write as _;

use super::*;

/// The psql inputs a replay of `script` is split into: (database, stdin).
fn parts(script: &str) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("postgres.sql.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&file).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(script.as_bytes()).unwrap();
    gz.finish().unwrap();
    let open = || {
        Script::new(
            BufReader::new(archive::gunzip_reader(&file).unwrap()),
            &file,
            u64::MAX,
            Some("dtaas"),
        )
    };
    let shared = Arc::new(Mutex::new(Shared {
        script: open(),
        next_db: None,
    }));
    let mut db = "postgres".to_owned();
    let mut out = Vec::new();
    loop {
        let mut feed = Feed {
            shared: Arc::clone(&shared),
            pending: b"\\restrict KEY\n".to_vec(),
            pos: 0,
            ended: false,
        };
        let mut text = String::new();
        feed.read_to_string(&mut text).unwrap();
        out.push((db.clone(), text));
        match shared.lock().unwrap().next_db.take() {
            Some(next) => db = next,
            None => return out,
        }
    }
}

#[test]
fn a_replay_runs_one_restricted_psql_per_database() {
    let script = "\\restrict g\nCREATE ROLE dtaas;\nCREATE ROLE u;\n\\unrestrict g\n\\connect template1\nSELECT 1;\n\\restrict k\n\\unrestrict k\n\\connect e2edb\n\\restrict k\nCOPY t FROM stdin;\n\\connect in data\n\\.\n\\unrestrict k\n";
    assert_eq!(
        parts(script),
        [
            (
                "postgres".to_owned(),
                "\\restrict KEY\nCREATE ROLE u;\n".to_owned()
            ),
            (
                "template1".to_owned(),
                "\\restrict KEY\nSELECT 1;\n".to_owned()
            ),
            (
                "e2edb".to_owned(),
                "\\restrict KEY\nCOPY t FROM stdin;\n\\connect in data\n\\.\n".to_owned()
            ),
        ]
    );
}

#[test]
fn a_refused_line_met_while_feeding_fails_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("postgres.sql.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&file).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(b"SELECT 1;\n\\! id\n").unwrap();
    gz.finish().unwrap();
    let reader = BufReader::new(archive::gunzip_reader(&file).unwrap());
    let mut feed = Feed {
        shared: Arc::new(Mutex::new(Shared {
            script: Script::new(reader, &file, u64::MAX, None),
            next_db: None,
        })),
        pending: Vec::new(),
        pos: 0,
        ended: false,
    };
    let err = feed.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(
        err.to_string().contains("line 2: \\! is not a command"),
        "{err}"
    );
}

#[test]
fn restricted_mode_keys_are_alphanumeric_and_fresh() {
    let a = random_key().unwrap();
    let b = random_key().unwrap();
    assert_eq!(a.len(), 48);
    assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(a, b);
}
