//! `Template`: one template version document, loaded from JSON, YAML or a
//! dict, with validation, content digest and writing.

use apptemplate_interop::{HeldVersion, from_data, parse_release_state, release_state_name};
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::PyDict;
use template_core::{Format, LoadOptions, TemplateVersion, ValidatedVersion};

use crate::convert::{data_to_py, value_from_py};
use crate::errors::core_error;

/// One version of an application template (`template-core`'s
/// `TemplateVersion`), validated at most once.
#[pyclass(name = "Template", module = "apptemplate", eq)]
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
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

/// Document text as `str` or `bytes`.
#[derive(FromPyObject)]
pub(crate) enum Text {
    Str(PyBackedStr),
    Bytes(PyBackedBytes),
}

impl Text {
    fn as_bytes(&self) -> &[u8] {
        match self {
            Text::Str(s) => s.as_bytes(),
            Text::Bytes(b) => b,
        }
    }
}

fn load_options(max_bytes: Option<usize>) -> LoadOptions {
    match max_bytes {
        Some(max_bytes) => LoadOptions { max_bytes },
        None => LoadOptions::default(),
    }
}

fn load(text: &Text, format: Format, max_bytes: Option<usize>) -> PyResult<Template> {
    template_core::load(text.as_bytes(), format, load_options(max_bytes))
        .map(Template::from)
        .map_err(core_error)
}

#[pymethods]
impl Template {
    /// Loads a document from JSON text.
    #[staticmethod]
    #[pyo3(signature = (text, *, max_bytes = None))]
    fn from_json(text: Text, max_bytes: Option<usize>) -> PyResult<Self> {
        load(&text, Format::Json, max_bytes)
    }

    /// Loads a document from YAML text.
    #[staticmethod]
    #[pyo3(signature = (text, *, max_bytes = None))]
    fn from_yaml(text: Text, max_bytes: Option<usize>) -> PyResult<Self> {
        load(&text, Format::Yaml, max_bytes)
    }

    /// Loads a document from a dict shaped like its JSON.
    #[staticmethod]
    fn from_dict(document: &Bound<'_, PyDict>) -> PyResult<Self> {
        from_data::<TemplateVersion>(value_from_py(document.as_any())?)
            .map(Template::from)
            .map_err(core_error)
    }

    /// Every problem of the document, each a dict `{path, kind, message}`;
    /// empty when the document is valid.
    fn validate<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        data_to_py(py, &template_core::validate(&self.inner))
    }

    /// Raises `ValidationError` (with `problems`) unless the document is
    /// valid. A document found valid (here, by a plan, or by the market
    /// that returned it) is not validated again until it is changed.
    fn ensure_valid(&self) -> PyResult<()> {
        self.inner.validated().map(drop).map_err(core_error)
    }

    /// `sha256:<hex>` of the content, equal for equal content whatever the
    /// format, key order, release state or creation time.
    fn content_digest(&self) -> PyResult<String> {
        template_core::content_digest(&self.inner).map_err(core_error)
    }

    /// The document as pretty JSON text.
    fn to_json(&self) -> PyResult<String> {
        template_core::to_json_string(&self.inner).map_err(core_error)
    }

    /// The document as YAML text.
    fn to_yaml(&self) -> PyResult<String> {
        template_core::to_yaml_string(&self.inner).map_err(core_error)
    }

    /// The document as a dict, with the content of its JSON.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        data_to_py(py, self.inner.version())
    }

    /// Template id.
    #[getter]
    fn id(&self) -> &str {
        &self.inner.template.id
    }

    /// Version number as written.
    #[getter]
    fn version(&self) -> &str {
        &self.inner.version
    }

    /// `draft`, `testing`, `released` or `deprecated`.
    #[getter]
    fn release_state(&self) -> String {
        release_state_name(self.inner.release_state)
    }

    /// Moves the version to another release state, as the life cycle allows
    /// (`ReleaseStateError` otherwise).
    fn set_release_state(&mut self, state: &str) -> PyResult<()> {
        let to = parse_release_state(state).map_err(core_error)?;
        template_core::set_release_state(self.inner.make_mut(), to).map_err(core_error)
    }

    fn __copy__(&self) -> Self {
        self.clone()
    }

    fn __deepcopy__(&self, _memo: &Bound<'_, PyAny>) -> Self {
        self.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "<Template {} {} ({})>",
            self.inner.template.id,
            self.inner.version,
            release_state_name(self.inner.release_state)
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Template>()
}
