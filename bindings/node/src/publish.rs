//! Publishing rules and incremental publishing.

use apptemplate_interop::from_data;
use napi::bindgen_prelude::{ClassInstance, Env, Result};
use napi_derive::napi;
use template_core::{IncrementalChange, Overwrite};

use crate::data::{IncrementalSummary, PublishOutcome, convert};
use crate::document::Template;
use crate::errors::core_error;

/// How `checkPublish` treats a version number that already exists.
#[napi(object)]
#[derive(Debug, Default)]
pub struct PublishOptions {
    /// Replace draft or testing content with different content (released
    /// content is never replaced).
    pub overwrite: Option<bool>,
}

/// Whether `candidate` may be published where the market holds `existing`
/// (null when the number is new).
#[napi]
pub fn check_publish(
    env: &Env,
    existing: Option<ClassInstance<'_, Template>>,
    candidate: &Template,
    options: Option<PublishOptions>,
) -> Result<PublishOutcome> {
    let overwrite = match options.and_then(|o| o.overwrite) {
        Some(true) => Overwrite::Allow,
        _ => Overwrite::Refuse,
    };
    let outcome = template_core::check_publish(
        existing.as_ref().map(|t| t.inner.version()),
        &candidate.inner,
        overwrite,
    )
    .map_err(|e| core_error(env, e))?;
    convert(&outcome)
}

/// A new version and what it took from where.
#[napi(object, object_from_js = false)]
#[derive(Debug)]
pub struct IncrementalResult {
    /// The new version, as a draft.
    pub template: Template,
    /// Component keys replaced, added and carried over.
    pub summary: IncrementalSummary,
}

/// A new version from `base` and `change`, an object shaped like the Rust
/// `IncrementalChange` (snake_case like the documents): `version`, and
/// optionally `alias`, `release_notes`, `created_at`, `components`,
/// `plugins`, `modules`.
#[napi(ts_args_type = "base: Template, change: IncrementalChange")]
pub fn build_incremental(
    env: &Env,
    base: &Template,
    change: serde_json::Value,
) -> Result<IncrementalResult> {
    let change: IncrementalChange = from_data(change).map_err(|e| core_error(env, e))?;
    let (next, summary) =
        template_core::build_incremental(&base.inner, change).map_err(|e| core_error(env, e))?;
    Ok(IncrementalResult {
        template: Template::from(next),
        summary: convert(&summary)?,
    })
}
