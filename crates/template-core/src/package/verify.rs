//! [`VerifyingReader`]: the one place a blob's bytes are hashed and counted
//! as they stream, whoever reads them (the package reader, the package
//! writer, a store writing blobs to disk).

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use crate::error::PackageError;

/// Passes bytes through while counting them and computing their sha256.
///
/// With an expected size it never reads past that size (the rest of the
/// stream belongs to someone else, e.g. the next tar entry), and
/// [`remaining`](Self::remaining) says how much is still due. Without one
/// it reads to the end of `inner`. It never decides what a mismatch means:
/// callers compare [`digest`](Self::digest) and
/// [`bytes_read`](Self::bytes_read) with what they expect and report in
/// their own terms, or use [`check_digest`](Self::check_digest).
#[derive(Debug)]
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Option<Sha256>,
    size: Option<u64>,
    seen: u64,
}

impl<R: Read> VerifyingReader<R> {
    /// Hashes everything `inner` yields, to its end.
    pub fn new(inner: R) -> Self {
        VerifyingReader {
            inner,
            hasher: Some(Sha256::new()),
            size: None,
            seen: 0,
        }
    }

    /// Hashes exactly `size` bytes of `inner` and reads no further.
    pub fn sized(inner: R, size: u64) -> Self {
        VerifyingReader {
            inner,
            hasher: Some(Sha256::new()),
            size: Some(size),
            seen: 0,
        }
    }

    /// Counts without hashing, for bytes whose digest someone already
    /// checked (the size is still enforced).
    pub fn sized_unhashed(inner: R, size: u64) -> Self {
        VerifyingReader {
            inner,
            hasher: None,
            size: Some(size),
            seen: 0,
        }
    }

    /// Bytes passed through so far.
    pub fn bytes_read(&self) -> u64 {
        self.seen
    }

    /// Bytes still due before the expected size (0 without one).
    pub fn remaining(&self) -> u64 {
        self.size.map_or(0, |s| s - self.seen)
    }

    /// The expected size, if any.
    pub fn expected_size(&self) -> Option<u64> {
        self.size
    }

    /// Whether the bytes are hashed.
    pub fn is_hashing(&self) -> bool {
        self.hasher.is_some()
    }

    /// `sha256:<hex>` of the bytes passed through so far (empty input's
    /// digest when not hashing).
    pub fn digest(&self) -> String {
        let hash = self.hasher.clone().unwrap_or_default().finalize();
        format!("sha256:{}", hex::encode(hash))
    }

    /// Compares the digest so far with `expected`; a mismatch is a
    /// [`PackageError::DigestMismatch`] naming `entry`. Passes when not
    /// hashing.
    pub fn check_digest(&self, entry: &str, expected: &str) -> Result<(), PackageError> {
        if self.hasher.is_none() {
            return Ok(());
        }
        let actual = self.digest();
        if actual != expected {
            return Err(PackageError::DigestMismatch {
                entry: entry.to_owned(),
                expected: expected.to_owned(),
                actual,
            });
        }
        Ok(())
    }

    /// The wrapped reader.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Ends the pass and returns `(digest, size)`.
    pub fn finish(self) -> (String, u64) {
        (self.digest(), self.seen)
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = match self.size {
            Some(size) => buf
                .len()
                .min(usize::try_from(size - self.seen).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        if want == 0 {
            return Ok(0);
        }
        let n = self.inner.read(&mut buf[..want])?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(&buf[..n]);
        }
        self.seen += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::sha256_of;

    #[test]
    fn hashes_and_counts_what_passes() {
        let mut r = VerifyingReader::new(&b"hello world"[..]);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"hello world");
        assert_eq!(r.finish(), (sha256_of(b"hello world"), 11));
    }

    #[test]
    fn a_sized_reader_stops_at_its_size() {
        let mut source = &b"abcdef"[..];
        let mut r = VerifyingReader::sized(&mut source, 4);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcd");
        assert_eq!(r.remaining(), 0);
        assert!(r.check_digest("e", &sha256_of(b"abcd")).is_ok());
        assert!(matches!(
            r.check_digest("e", &sha256_of(b"abce")),
            Err(PackageError::DigestMismatch { .. })
        ));
        assert_eq!(source, b"ef");
    }

    #[test]
    fn an_unhashed_reader_only_counts() {
        let mut r = VerifyingReader::sized_unhashed(&b"abc"[..], 3);
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert_eq!(r.bytes_read(), 3);
        assert!(r.check_digest("e", "sha256:whatever").is_ok());
    }
}
