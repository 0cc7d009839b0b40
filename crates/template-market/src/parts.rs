//! Splitting a package into parts of bounded size (FAT32 stores at most
//! 4 GiB per file) and reading it back from them. The parts are plain
//! slices of the archive bytes: `cat pkg.part-* > pkg.tar.zst` rebuilds it.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The path of part `n` (0-based) of a package written at `base`:
/// `<base>.part-000`, `<base>.part-001`, ...
pub fn part_paths(base: &Path, count: usize) -> Vec<PathBuf> {
    (0..count).map(|n| part_path(base, n)).collect()
}

fn part_path(base: &Path, n: usize) -> PathBuf {
    let mut name = base
        .file_name()
        .map(|s| s.to_os_string())
        .unwrap_or_default();
    name.push(format!(".part-{n:03}"));
    base.with_file_name(name)
}

/// Writes a stream into files of at most `part_size` bytes each.
#[derive(Debug)]
pub struct PartWriter {
    base: PathBuf,
    part_size: u64,
    current: Option<BufWriter<File>>,
    in_current: u64,
    paths: Vec<PathBuf>,
    attempted: Option<PathBuf>,
}

impl PartWriter {
    /// Parts will be `<base>.part-NNN`, each at most `part_size` bytes
    /// (at least 1).
    pub fn new(base: impl Into<PathBuf>, part_size: u64) -> Self {
        PartWriter {
            base: base.into(),
            part_size: part_size.max(1),
            current: None,
            in_current: 0,
            paths: Vec::new(),
            attempted: None,
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        if let Some(mut w) = self.current.take() {
            w.flush()?;
            w.get_ref().sync_all()?;
        }
        let path = part_path(&self.base, self.paths.len());
        self.attempted = Some(path.clone());
        self.current = Some(BufWriter::with_capacity(1 << 20, File::create(&path)?));
        self.paths.push(path);
        self.in_current = 0;
        Ok(())
    }

    /// The part last opened or being opened (where a write error happened).
    pub(crate) fn attempted(&self) -> Option<&Path> {
        self.attempted.as_deref()
    }

    /// The parts created so far.
    pub(crate) fn written(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Flushes and syncs the last part; returns every part's path.
    pub fn finish(mut self) -> io::Result<Vec<PathBuf>> {
        if self.current.is_none() {
            self.rotate()?;
        }
        if let Some(mut w) = self.current.take() {
            w.flush()?;
            w.get_ref().sync_all()?;
        }
        Ok(std::mem::take(&mut self.paths))
    }
}

impl Write for PartWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.current.is_none() || self.in_current >= self.part_size {
            self.rotate()?;
        }
        let room = usize::try_from(self.part_size - self.in_current).unwrap_or(usize::MAX);
        let n = buf.len().min(room);
        let written = match self.current.as_mut() {
            Some(w) => w.write(&buf[..n])?,
            None => return Err(io::Error::other("no open part")),
        };
        self.in_current += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

/// Reads parts one after the other as one stream.
#[derive(Debug)]
pub struct PartsReader {
    paths: Vec<PathBuf>,
    next: usize,
    current: Option<File>,
}

impl PartsReader {
    /// Reads `paths` in order.
    pub fn new(paths: Vec<PathBuf>) -> Self {
        PartsReader {
            paths,
            next: 0,
            current: None,
        }
    }
}

impl Read for PartsReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(f) = self.current.as_mut() {
                let n = f.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
                self.current = None;
            }
            let Some(path) = self.paths.get(self.next) else {
                return Ok(0);
            };
            self.current =
                Some(File::open(path).map_err(|e| {
                    io::Error::new(e.kind(), format!("part {}: {e}", path.display()))
                })?);
            self.next += 1;
        }
    }
}
