//! Version order: upgrade candidates.

use napi::bindgen_prelude::{ClassInstance, Env, Result};
use napi_derive::napi;
use template_core::CandidateFilter;

use crate::document::Template;
use crate::errors::core_error;

/// Which versions `upgradeCandidates` offers.
#[napi(object)]
#[derive(Debug, Default)]
pub struct CandidateOptions {
    /// Offer only released versions (what production environments accept).
    pub released_only: Option<bool>,
}

/// The versions in `available` of the same template as `installed` and
/// newer than it, oldest first.
#[napi]
pub fn upgrade_candidates(
    env: &Env,
    installed: &Template,
    available: Vec<ClassInstance<'_, Template>>,
    options: Option<CandidateOptions>,
) -> Result<Vec<Template>> {
    let filter = CandidateFilter {
        released_only: options.and_then(|o| o.released_only).unwrap_or(false),
    };
    let candidates = template_core::upgrade_candidates(
        &installed.inner,
        available.iter().map(|t| t.inner.version()),
        filter,
    )
    .map_err(|e| core_error(env, e))?;
    Ok(candidates
        .into_iter()
        .cloned()
        .map(Template::from)
        .collect())
}
