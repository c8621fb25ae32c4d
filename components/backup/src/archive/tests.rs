use std::io::Read as _;

use super::*;

#[test]
fn an_archive_records_what_it_holds() {
    let src = tempfile::tempdir().unwrap();
    let d = src.path().join("data/svc");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/file"), b"hello").unwrap();
    std::fs::write(d.join(".cookie"), b"secret").unwrap();
    let out = src.path().join("a.tar.gz");
    let w = create(src.path(), &["data/svc".to_owned()], &out, "svc").unwrap();
    assert_eq!(w.size, std::fs::metadata(&out).unwrap().len());
    assert_eq!(w.sha256, crate::manifest::sha256_file(&out).unwrap());
    assert_eq!(w.unpacked_size, 11);
    // data/svc, data/svc/sub, data/svc/sub/file, data/svc/.cookie
    assert_eq!(w.entries, Some(4));
}

#[test]
fn gzip_round_trips_chunk_by_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dump.sql.gz");
    let mut gz = GzipFile::create(&out).unwrap();
    gz.write(b"SELECT ").unwrap();
    gz.write(b"1;\n").unwrap();
    let w = gz.finish().unwrap();
    assert_eq!(w.size, std::fs::metadata(&out).unwrap().len());
    assert_eq!(w.sha256.len(), 64);
    assert_eq!(w.unpacked_size, 10);
    let mut back = String::new();
    gunzip_reader(&out)
        .unwrap()
        .read_to_string(&mut back)
        .unwrap();
    assert_eq!(back, "SELECT 1;\n");
}
