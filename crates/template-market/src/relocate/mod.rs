//! Image relocation: pushing images from the market to a registry over the
//! OCI distribution API, before an environment pulls them.
//!
//! For each image, every blob (layers, config) the registry's repository
//! lacks (`HEAD /v2/<name>/blobs/<digest>`) is uploaded (`POST` then one
//! `PUT`, or `PATCH` chunks and a closing `PUT` for big blobs), then the
//! manifests are put by digest (children of an index first) and, when the
//! image's name has one, by tag. Blobs go up in parallel on a few threads.
//! Nothing is kept locally between runs: a rerun asks the registry again,
//! so an interrupted relocation resumes with what is missing and a
//! complete one pushes nothing.
//!
//! The registry client (TLS trust, authentication) is the one of module
//! `registry`, shared with pulls.

//!
//! This module holds the public types; `push` plans and runs a relocation,
//! `upload` is the registry client's side: one blob, one manifest.

mod push;
mod upload;

use std::ops::ControlFlow;
use std::time::Duration;

pub use template_core::relocation::{RelocateEvent, RelocationCounts};

use crate::catalog::ImageRef;
#[cfg(doc)]
use crate::error::MarketError;

/// How to relocate. Serializes as `{parallelism, chunk_size, push_tags,
/// request_timeout_seconds}`; absent fields keep their defaults.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(default, deny_unknown_fields)]
pub struct RelocateOptions {
    /// Blobs uploaded at once (at least 1).
    #[serde(with = "template_core::option_fields::at_least_one")]
    #[schemars(with = "u64")]
    pub parallelism: usize,
    /// Blobs larger than this are uploaded in chunks of this size.
    pub chunk_size: u64,
    /// Also put each manifest by the tag of the image's name, if it has one.
    pub push_tags: bool,
    /// Timeout of one HTTP request.
    #[serde(
        rename = "request_timeout_seconds",
        with = "template_core::option_fields::seconds"
    )]
    #[schemars(with = "f64")]
    pub request_timeout: Duration,
}

impl Default for RelocateOptions {
    fn default() -> Self {
        RelocateOptions {
            parallelism: 4,
            chunk_size: 64 << 20,
            push_tags: true,
            request_timeout: Duration::from_secs(600),
        }
    }
}

/// One progress report of a relocation. Totals count what must be
/// uploaded, known once the registry has been asked what it has.
/// Serializes with its field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct RelocateProgress<'a> {
    /// What happened.
    pub event: RelocateEvent,
    /// Bytes uploaded so far.
    pub bytes_done: u64,
    /// Bytes to upload in all.
    pub bytes_total: u64,
    /// Blobs uploaded so far.
    pub blobs_done: usize,
    /// Blobs to upload in all.
    pub blobs_total: usize,
    /// The current item: `<repository>@<digest>` (or `:<tag>`).
    pub item: &'a str,
}

/// The progress callback: [`ControlFlow::Break`] stops the relocation (it
/// then fails with [`MarketError::Cancelled`]; a rerun resumes).
pub type RelocateCallback<'a> = dyn FnMut(&RelocateProgress<'_>) -> ControlFlow<()> + Send + 'a;

/// What a relocation did. Serializes with the counts' field names and each
/// image as `{name, digest, relocated}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct RelocateReport {
    /// What was checked, skipped, uploaded, mounted and put.
    #[serde(flatten)]
    pub counts: RelocationCounts,
    /// Each image with its relocated reference.
    #[serde(serialize_with = "crate::ser::relocated_images")]
    #[schemars(with = "Vec<crate::ser::RelocatedImageEntry<'static>>")]
    pub images: Vec<(ImageRef, String)>,
}

#[cfg(test)]
mod tests {
    use super::push::tag_of;
    use super::upload::with_digest;
    use crate::error::Result;
    use crate::registry::RegistryTarget;

    #[test]
    fn repositories_and_tags() -> Result<()> {
        let t = RegistryTarget::new("10.0.0.5:5000/mirror");
        let with_password = RegistryTarget {
            credentials: Some(("u".to_owned(), "hunter2".to_owned())),
            ..t.clone()
        };
        assert!(!format!("{with_password:?}").contains("hunter2"));
        assert_eq!(
            t.repository_for("registry.example.com/pig/pig-auth:3.8.2")?,
            "mirror/pig/pig-auth"
        );
        assert_eq!(
            tag_of("registry.example.com:5000/pig/pig-auth:3.8.2").as_deref(),
            Some("3.8.2")
        );
        assert_eq!(tag_of("registry.example.com:5000/pig/pig-auth"), None);
        assert_eq!(
            with_digest("http://h/u?x=1", "sha256:a"),
            "http://h/u?x=1&digest=sha256:a"
        );
        Ok(())
    }
}
