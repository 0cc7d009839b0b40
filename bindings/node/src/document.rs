//! `Template`: one template version document, loaded from JSON, YAML or a
//! plain object, with validation, content digest and writing.

use apptemplate_interop::{HeldVersion, from_data, parse_release_state, release_state_name};
use napi::bindgen_prelude::{Buffer, Either, Env, Result};
use napi_derive::napi;
use template_core::{Format, LoadOptions, TemplateVersion, ValidatedVersion};

use crate::data::{Problem, convert};
use crate::errors::core_error;

/// Limits applied while loading a document from text.
#[napi(object, js_name = "LoadOptions")]
#[derive(Debug, Default)]
pub struct TextLoadOptions {
    /// Largest accepted document in bytes (default 16 MiB).
    pub max_bytes: Option<u32>,
}

/// One version of an application template (`template-core`'s
/// `TemplateVersion`). Create it with `fromJson`, `fromYaml` or
/// `fromObject`.
#[napi]
#[derive(Debug, Clone)]
pub struct Template {
    pub(crate) inner: HeldVersion,
}

impl From<TemplateVersion> for Template {
    fn from(inner: TemplateVersion) -> Self {
        Template {
            inner: inner.into(),
        }
    }
}

impl From<ValidatedVersion> for Template {
    fn from(validated: ValidatedVersion) -> Self {
        Template {
            inner: validated.into(),
        }
    }
}

fn load(
    env: &Env,
    text: Either<String, Buffer>,
    format: Format,
    options: Option<TextLoadOptions>,
) -> Result<Template> {
    let bytes: &[u8] = match &text {
        Either::A(s) => s.as_bytes(),
        Either::B(b) => b,
    };
    let options = match options.and_then(|o| o.max_bytes) {
        Some(max_bytes) => LoadOptions {
            max_bytes: max_bytes as usize,
        },
        None => LoadOptions::default(),
    };
    template_core::load(bytes, format, options)
        .map(Template::from)
        .map_err(|e| core_error(env, e))
}

#[napi]
impl Template {
    /// Loads a document from JSON text.
    #[napi(factory)]
    pub fn from_json(
        env: &Env,
        text: Either<String, Buffer>,
        options: Option<TextLoadOptions>,
    ) -> Result<Self> {
        load(env, text, Format::Json, options)
    }

    /// Loads a document from YAML text.
    #[napi(factory)]
    pub fn from_yaml(
        env: &Env,
        text: Either<String, Buffer>,
        options: Option<TextLoadOptions>,
    ) -> Result<Self> {
        load(env, text, Format::Yaml, options)
    }

    /// Loads a document from a plain object shaped like its JSON.
    #[napi(factory, ts_args_type = "document: Record<string, unknown>")]
    pub fn from_object(env: &Env, document: serde_json::Value) -> Result<Self> {
        from_data::<TemplateVersion>(document)
            .map(Template::from)
            .map_err(|e| core_error(env, e))
    }

    /// Every problem of the document; empty when it is valid.
    #[napi]
    pub fn validate(&self) -> Result<Vec<Problem>> {
        convert(&template_core::validate(&self.inner))
    }

    /// Throws a `VALIDATION_FAILED` error (with `problems`) unless the
    /// document is valid. A document found valid (here, by a plan, or by
    /// the market that returned it) is not validated again until it is
    /// changed.
    #[napi]
    pub fn ensure_valid(&self, env: &Env) -> Result<()> {
        self.inner
            .validated()
            .map(drop)
            .map_err(|e| core_error(env, e))
    }

    /// `sha256:<hex>` of the content, equal for equal content whatever the
    /// format, key order, release state or creation time.
    #[napi]
    pub fn content_digest(&self, env: &Env) -> Result<String> {
        template_core::content_digest(&self.inner).map_err(|e| core_error(env, e))
    }

    /// The document as pretty JSON text.
    #[napi]
    pub fn to_json(&self, env: &Env) -> Result<String> {
        template_core::to_json_string(&self.inner).map_err(|e| core_error(env, e))
    }

    /// The document as YAML text.
    #[napi]
    pub fn to_yaml(&self, env: &Env) -> Result<String> {
        template_core::to_yaml_string(&self.inner).map_err(|e| core_error(env, e))
    }

    /// The document as a plain object, with the content of its JSON.
    #[napi(ts_return_type = "Record<string, unknown>")]
    pub fn to_object(&self) -> Result<serde_json::Value> {
        convert(self.inner.version())
    }

    /// Template id.
    #[napi(getter)]
    pub fn id(&self) -> String {
        self.inner.template.id.clone()
    }

    /// Version number as written.
    #[napi(getter)]
    pub fn version(&self) -> String {
        self.inner.version.clone()
    }

    /// Where the version is in its life cycle.
    #[napi(getter, ts_return_type = "ReleaseState")]
    pub fn release_state(&self) -> String {
        release_state_name(self.inner.release_state)
    }

    /// Moves the version to another release state, as the life cycle allows
    /// (a `RELEASE_STATE` error otherwise).
    #[napi(ts_args_type = "state: ReleaseState")]
    pub fn set_release_state(&mut self, env: &Env, state: String) -> Result<()> {
        let to = parse_release_state(&state).map_err(|e| core_error(env, e))?;
        template_core::set_release_state(self.inner.make_mut(), to).map_err(|e| core_error(env, e))
    }

    /// Whether both hold the same document (release state and creation time
    /// included; compare `contentDigest()` for content alone).
    #[napi]
    pub fn equals(&self, other: &Template) -> bool {
        self.inner == other.inner
    }

    /// An independent copy.
    #[napi(js_name = "clone")]
    pub fn duplicate(&self) -> Template {
        self.clone()
    }
}
