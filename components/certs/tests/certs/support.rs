use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration as StdDuration, SystemTime};

use certs::{CertsOptions, Owner, Owners};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use time::{Duration, OffsetDateTime};

pub(crate) const HOST: &str = "services.example.org";

/// Owners distinct enough to see each one land on its file.
pub(crate) fn owners() -> Owners {
    Owners {
        grafana: Owner::new(472, 472),
        mongo: Owner::new(999, 999),
        influx: Owner::new(1000, 1000),
        rabbit: Owner::uid_only(998),
        postgres: Owner::new(997, 996),
        thingsboard: Owner::new(799, 799),
    }
}

pub(crate) struct Ca {
    pub(crate) issuer: Issuer<'static, KeyPair>,
    pub(crate) pem: String,
}

pub(crate) fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let now = OffsetDateTime::now_utc();
    p.not_before = now - Duration::days(10);
    p.not_after = now + Duration::days(3650);
    let key = KeyPair::generate().unwrap();
    let pem = p.self_signed(&key).unwrap().pem();
    Ca {
        issuer: Issuer::new(p, key),
        pem,
    }
}

pub(crate) struct Leaf {
    pub(crate) key: String,
    pub(crate) cert: String,
}

/// A leaf for `names`, valid from `from_days` to `to_days` relative to now.
pub(crate) fn leaf(ca: &Ca, names: &[&str], from_days: i64, to_days: i64) -> Leaf {
    let names: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let mut p = CertificateParams::new(names.clone()).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, names[0].clone());
    let now = OffsetDateTime::now_utc();
    p.not_before = now + Duration::days(from_days);
    p.not_after = now + Duration::days(to_days);
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.issuer).unwrap().pem();
    Leaf {
        key: key.serialize_pem(),
        cert,
    }
}

pub(crate) fn good_leaf(ca: &Ca) -> Leaf {
    leaf(ca, &[HOST], -1, 90)
}

pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) src: PathBuf,
    pub(crate) project: PathBuf,
}

impl Fixture {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("letsencrypt");
        let project = dir.path().join("project");
        fs::create_dir_all(&src).unwrap();
        fs::create_dir_all(&project).unwrap();
        Fixture {
            _dir: dir,
            src,
            project,
        }
    }

    /// A source with `privkey.pem` / `fullchain.pem` / `cert.pem` / `chain.pem`.
    pub(crate) fn with_pair(ca: &Ca, leaf: &Leaf) -> Self {
        let f = Fixture::new();
        f.write_pair(ca, leaf);
        f
    }

    pub(crate) fn write_pair(&self, ca: &Ca, leaf: &Leaf) {
        self.write_src("privkey.pem", &leaf.key, 0);
        self.write_src("fullchain.pem", &format!("{}{}", leaf.cert, ca.pem), 0);
        self.write_src("cert.pem", &leaf.cert, 0);
        self.write_src("chain.pem", &ca.pem, 0);
    }

    pub(crate) fn opts(&self) -> CertsOptions {
        CertsOptions {
            project_dir: self.project.clone(),
            certs_src: self.src.clone(),
            hostname: HOST.to_owned(),
            owners: owners(),
            skip_chown: false,
            dry_run: false,
        }
    }

    pub(crate) fn certs(&self) -> PathBuf {
        self.project.join("certs")
    }

    /// Writes a source file `age_secs` old.
    pub(crate) fn write_src(&self, name: &str, content: &str, age_secs: u64) {
        let p = self.src.join(name);
        fs::write(&p, content).unwrap();
        let t = SystemTime::now() - StdDuration::from_secs(age_secs);
        fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(t)
            .unwrap();
    }

    pub(crate) fn read_cert(&self, name: &str) -> String {
        fs::read_to_string(self.certs().join(name)).unwrap()
    }
}

/// (mode, uid, gid)
pub(crate) fn meta(path: &Path) -> (u32, u32, u32) {
    let m = fs::symlink_metadata(path).unwrap();
    (m.mode() & 0o7777, m.uid(), m.gid())
}

/// Every path below `dir` with (mtime, inode, mode, uid, gid).
pub(crate) fn tree_state(dir: &Path) -> BTreeMap<PathBuf, (i64, i64, u64, u32, u32, u32)> {
    let mut out = BTreeMap::new();
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, (i64, i64, u64, u32, u32, u32)>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let m = fs::symlink_metadata(&p).unwrap();
            out.insert(
                p.clone(),
                (
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ino(),
                    m.mode(),
                    m.uid(),
                    m.gid(),
                ),
            );
            if m.is_dir() {
                walk(&p, out);
            }
        }
    }
    walk(dir, &mut out);
    out
}

/// Names of leftover temp files in `dir`.
pub(crate) fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

pub(crate) fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
