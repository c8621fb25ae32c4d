//! tar + gzip of project-relative directories, with owners, modes and mtimes; gzip'd
//! dumps. Unpacking is [`crate::unpack`]'s.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::BackupError;
use crate::error::io_err;
use crate::manifest::HashingFile;

/// A file a backup wrote: its size and sha256, and what it holds once unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    pub(crate) size: u64,
    pub(crate) sha256: String,
    pub(crate) unpacked_size: u64,
    /// Entries of an archive; `None` for a dump.
    pub(crate) entries: Option<u64>,
    /// What an archive left out, with why.
    pub(crate) left_out: Vec<crate::manifest::LeftOut>,
}

/// Write `out` as a tar.gz of the `paths` (relative to `root`, stored under those names),
/// walked without following links ([`crate::walk`]: sockets, FIFOs and links pointing
/// outside a path are left out and listed). The archive is read back to count what it
/// holds; one a restore would refuse fails here, when the data is still there.
pub(crate) fn create(
    root: &Path,
    paths: &[String],
    out: &Path,
    service: &str,
) -> Result<Written, BackupError> {
    let project = safe_fs::Dir::open_root(root).map_err(|e| io_err(root, &e))?;
    let plan = crate::walk::plan(&project, paths)?;
    let file = HashingFile::create(out)?;
    let gz = GzEncoder::new(file, Compression::default());
    let mut tar = tar::Builder::new(gz);
    crate::walk::append(&mut tar, &project, &plan)?;
    let gz = tar.into_inner().map_err(|e| io_err(out, &e))?;
    let file = gz.finish().map_err(|e| io_err(out, &e))?;
    let (size, sha256) = file.finish()?;
    let content = crate::unpack::measure(out, paths, service)?;
    Ok(Written {
        size,
        sha256,
        unpacked_size: content.bytes,
        entries: Some(content.entries),
        left_out: plan.left_out,
    })
}

/// A gzip file written chunk by chunk (a streamed database dump), hashed as it is written.
pub(crate) struct GzipFile {
    gz: GzEncoder<HashingFile>,
    path: PathBuf,
    /// Bytes written before compression.
    written: u64,
}

impl GzipFile {
    pub(crate) fn create(path: &Path) -> Result<Self, BackupError> {
        Ok(Self {
            gz: GzEncoder::new(HashingFile::create(path)?, Compression::default()),
            path: path.to_owned(),
            written: 0,
        })
    }

    pub(crate) fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        self.written += chunk.len() as u64;
        self.gz.write_all(chunk)
    }

    /// Finish the stream.
    pub(crate) fn finish(self) -> Result<Written, BackupError> {
        let mut file = self.gz.finish().map_err(|e| io_err(&self.path, &e))?;
        file.flush().map_err(|e| io_err(&self.path, &e))?;
        let (size, sha256) = file.finish()?;
        Ok(Written {
            size,
            sha256,
            unpacked_size: self.written,
            entries: None,
            left_out: Vec::new(),
        })
    }
}

/// A reader of the decompressed content of a gzip file (fed to a restore as it is read).
pub(crate) fn gunzip_reader(path: &Path) -> Result<GzDecoder<std::fs::File>, BackupError> {
    let f = std::fs::File::open(path).map_err(|e| io_err(path, &e))?;
    Ok(GzDecoder::new(f))
}

#[cfg(test)]
mod tests;
