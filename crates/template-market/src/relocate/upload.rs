//! The registry client's side of a relocation: sending one blob (a
//! cross-repository mount when the registry can, else one `PUT` or `PATCH`
//! chunks and a closing `PUT`, resumed where a previous attempt stopped,
//! bytes reported as they go) and putting one manifest.

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use super::RelocateEvent;
use super::push::{BlobJob, ManifestJob, Shared};
use crate::error::{MarketError, Result};
use crate::registry::{Client, Response, auth};
use crate::store::COPY_BUFFER;

impl Client<'_> {
    /// Starts an upload, or mounts the blob from `mount_from` when the
    /// registry can (and the credentials may pull from there); returns
    /// the answer.
    fn start_upload(
        &self,
        job: &BlobJob,
        item: &str,
        mount_from: Option<&str>,
    ) -> Result<Response> {
        let mut scopes = self.scopes(&job.repository);
        let url = match mount_from {
            Some(from) => {
                scopes.push(auth::repository_scope(from, "pull"));
                format!(
                    "{}/v2/{}/blobs/uploads/?mount={}&from={from}",
                    self.base, job.repository, job.digest
                )
            }
            None => format!("{}/v2/{}/blobs/uploads/", self.base, job.repository),
        };
        let response = self.send(item, &scopes, |auth| {
            Self::with_auth(self.agent.post(&url), auth)
                .send_empty()
                .map_err(|e| self.transport(item, e))
        })?;
        if mount_from.is_some() && matches!(response.status().as_u16(), 401 | 403) {
            // Not allowed to read the source repository: upload instead.
            return self.start_upload(job, item, None);
        }
        Ok(response)
    }

    /// Uploads a blob, or mounts it from `mount_from` when the registry
    /// can; returns whether it was mounted.
    pub(super) fn upload_blob(
        &self,
        job: &BlobJob,
        mut file: std::fs::File,
        mount_from: Option<&str>,
        shared: &Shared<'_, '_>,
    ) -> Result<bool> {
        let item = format!("{}@{}", job.repository, job.digest);
        let scopes = self.scopes(&job.repository);
        let mut response = self.start_upload(job, &item, mount_from)?;
        if mount_from.is_some() && response.status().as_u16() == 201 {
            shared.report(RelocateEvent::Mounted, &item, job.size, true);
            return Ok(true);
        }
        if response.status().as_u16() != 202 {
            return Err(self.status_error(&item, "POST blob upload", &mut response));
        }
        let mut location = self.location(&item, &response)?;
        let cancelled = || MarketError::Cancelled {
            what: format!("upload of {item}"),
        };
        let read_err = |e: io::Error| {
            if shared.is_cancelled() {
                cancelled()
            } else {
                self.error(
                    &item,
                    format!("reading the blob from the market failed: {e}"),
                )
            }
        };
        // Sends `len` bytes of the blob from `offset`; a second attempt
        // (after a 401) reports only bytes the first did not.
        let mut send_part =
            |request: &dyn Fn(Option<&str>) -> ureq::RequestBuilder<ureq::typestate::WithBody>,
             offset: u64,
             len: u64|
             -> Result<Response> {
                let mut reported = 0u64;
                self.send(&item, &scopes, |auth| {
                    file.seek(SeekFrom::Start(offset)).map_err(|e| {
                        self.error(&item, format!("seek in the market's blob: {e}"))
                    })?;
                    let mut reader = Counting {
                        inner: BufReader::with_capacity(COPY_BUFFER, (&mut file).take(len)),
                        shared,
                        item: &item,
                        pending: 0,
                        skip: reported,
                        read: 0,
                        failed: false,
                    };
                    let result = request(auth)
                        .header("Content-Type", "application/octet-stream")
                        .header("Content-Length", len.to_string())
                        .send(ureq::SendBody::from_reader(&mut reader));
                    reader.flush();
                    reported = reported.max(reader.read);
                    if shared.is_cancelled() {
                        return Err(cancelled());
                    }
                    let failed = reader.failed;
                    result.map_err(|e| match e {
                        ureq::Error::Io(io) if failed => read_err(io),
                        e => self.transport(&item, e),
                    })
                })
            };
        if job.size > self.chunk_size {
            let mut offset = 0u64;
            while offset < job.size {
                let len = self.chunk_size.min(job.size - offset);
                let url = location.clone();
                let range = format!("{offset}-{}", offset + len - 1);
                let mut response = send_part(
                    &|auth| {
                        Self::with_auth(self.agent.patch(&url), auth)
                            .header("Content-Range", &range)
                    },
                    offset,
                    len,
                )?;
                if response.status().as_u16() != 202 {
                    return Err(self.status_error(&item, "PATCH blob chunk", &mut response));
                }
                location = self.location(&item, &response)?;
                offset += len;
            }
            let url = with_digest(&location, &job.digest);
            let mut response = self.send(&item, &scopes, |auth| {
                Self::with_auth(self.agent.put(&url), auth)
                    .header("Content-Length", "0")
                    .send_empty()
                    .map_err(|e| self.transport(&item, e))
            })?;
            if response.status().as_u16() != 201 {
                return Err(self.status_error(&item, "PUT blob (closing upload)", &mut response));
            }
        } else {
            let url = with_digest(&location, &job.digest);
            let mut response = send_part(
                &|auth| Self::with_auth(self.agent.put(&url), auth),
                0,
                job.size,
            )?;
            if response.status().as_u16() != 201 {
                return Err(self.status_error(&item, "PUT blob", &mut response));
            }
        }
        shared.report(RelocateEvent::Uploaded, &item, 0, true);
        Ok(false)
    }

    pub(super) fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        m: &ManifestJob,
    ) -> Result<()> {
        self.put_manifest_bytes(repository, reference, &m.media_type, &m.bytes, &m.digest)
    }
}
/// Adds `digest=<digest>` to an upload location.
pub(super) fn with_digest(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

/// How often an upload reports bytes.
const REPORT_EVERY: u64 = 1 << 20;

/// Counts bytes read for an upload, reports them, and stops the read
/// with an error when the relocation is cancelled. The first `skip` bytes
/// are not reported (a previous attempt did).
struct Counting<'s, 'c, 'a, R> {
    inner: R,
    shared: &'s Shared<'c, 'a>,
    item: &'s str,
    pending: u64,
    skip: u64,
    read: u64,
    /// Reading the market's blob failed (not the network).
    failed: bool,
}

impl<R> Counting<'_, '_, '_, R> {
    fn flush(&mut self) {
        if self.pending > 0 {
            self.shared
                .report(RelocateEvent::Uploading, self.item, self.pending, false);
            self.pending = 0;
        }
    }
}

impl<R: Read> Read for Counting<'_, '_, '_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.shared.is_cancelled() {
            return Err(io::Error::other("relocation cancelled"));
        }
        let n = self.inner.read(buf).inspect_err(|_| self.failed = true)?;
        let skipped = self.skip.min(n as u64);
        self.skip -= skipped;
        self.read += n as u64;
        self.pending += n as u64 - skipped;
        if self.pending >= REPORT_EVERY {
            self.flush();
        }
        Ok(n)
    }
}
