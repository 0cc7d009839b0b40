//! The shapes of the plain data the addon returns, so that `index.d.ts`
//! describes them. Each is filled from the core value's Rust JSON, keeping
//! its field names.

use napi::bindgen_prelude::{Error, Result, Status};
use napi_derive::napi;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// One thing wrong with a document.
#[napi(object)]
#[derive(Debug, Deserialize)]
pub struct Problem {
    /// Where: a path in the document, e.g. `components[gateway].ports[1].port`.
    pub path: String,
    /// What kind of problem, for programs, e.g. `image_without_digest`.
    pub kind: String,
    /// What is wrong and what to do, for people.
    pub message: String,
}

/// What a publish did or would do.
#[napi(object)]
#[derive(Debug, Deserialize)]
pub struct PublishOutcome {
    /// `created` (a new version number), `unchanged` (the same content is
    /// already published under it) or `replaced` (draft or testing content
    /// overwritten).
    #[napi(ts_type = "'created' | 'unchanged' | 'replaced'")]
    pub outcome: String,
    /// Content digest of the published content.
    pub digest: String,
    /// For `replaced`: digest of the content that was replaced.
    pub previous: Option<String>,
}

/// What an incremental publish took from where (component keys).
#[napi(object)]
#[derive(Debug, Deserialize)]
pub struct IncrementalSummary {
    /// Base components replaced by new definitions.
    pub replaced: Vec<String>,
    /// Components new in this version.
    pub added: Vec<String>,
    /// Base components carried over unchanged.
    #[napi(js_name = "carried_over")]
    pub carried_over: Vec<String>,
}

/// A core value converted, through its Rust JSON, into the addon type that
/// describes it (or into `serde_json::Value`).
pub(crate) fn convert<T: serde::Serialize, U: DeserializeOwned>(value: &T) -> Result<U> {
    apptemplate_interop::to_data(value)
        .and_then(serde_json::from_value)
        .map_err(|e| {
            Error::new(
                Status::GenericFailure,
                format!("unexpected value shape: {e}"),
            )
        })
}

/// An incremental publish as data: the new version number and only what
/// changed. Components, plugins and modules are document objects (as in
/// `Template.toObject()`), replacing the base's entry of the same key or
/// added when the key is new.
#[napi(object)]
#[derive(Debug)]
pub struct IncrementalChange {
    /// The new version number; must be newer than the base.
    pub version: String,
    /// Alias of the new version; the base's alias is not carried over.
    pub alias: Option<String>,
    /// Release notes of the new version.
    #[napi(js_name = "release_notes")]
    pub release_notes: Option<String>,
    /// Creation time (RFC 3339), supplied by the caller.
    #[napi(js_name = "created_at")]
    pub created_at: Option<String>,
    /// Components replaced or added, by key.
    #[napi(ts_type = "Array<Record<string, unknown>>")]
    pub components: Option<Vec<serde_json::Value>>,
    /// Plugins replaced or added, by key.
    #[napi(ts_type = "Array<Record<string, unknown>>")]
    pub plugins: Option<Vec<serde_json::Value>>,
    /// Modules replaced or added, by key.
    #[napi(ts_type = "Array<Record<string, unknown>>")]
    pub modules: Option<Vec<serde_json::Value>>,
    /// Config groups replaced or added, by name.
    #[napi(js_name = "config_groups", ts_type = "Array<Record<string, unknown>>")]
    pub config_groups: Option<Vec<serde_json::Value>>,
}
