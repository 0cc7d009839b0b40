//! `Market`: the local market of `template-market` (images, versions,
//! offline packages, relocation, keys).
//!
//! Long operations (adding images, export, import, relocation, gc, verify)
//! run without the GIL, so other Python threads go on meanwhile, and
//! report through a `progress` callable (see `progress`). Reports and
//! progress are handed out as their Rust JSON (`data_to_py`), the same data
//! the Node addon gives.

use std::ops::ControlFlow;
use std::path::PathBuf;

use apptemplate_interop::{parse_release_state, to_data};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use serde_json::Value;
use template_core::Overwrite;
use template_market::{
    ExportOptions, ImportOptions, Market as RustMarket, MarketOptions, Progress, PullOptions,
    PullProgress, RegistryAccess, RelocateOptions, RelocateProgress,
    generate_key_pair as rust_generate_key_pair,
};

use crate::convert::data_to_py;
use crate::document::Template;
use crate::errors::{core_error, raise};
use crate::options::kwargs_options;
use crate::plans::read;
use crate::progress::Callback;

/// A local market rooted at a directory (created when missing or empty).
#[pyclass(name = "Market", module = "apptemplate", frozen)]
#[derive(Debug, Clone)]
pub(crate) struct Market {
    pub(crate) inner: RustMarket,
}

/// A progress report as its Rust JSON, for the `progress` callable.
pub(crate) fn progress_data<T: serde::Serialize>(report: &T) -> Value {
    to_data(report).unwrap_or(Value::Null)
}

/// A registry given as `host[:port][/prefix]` or as a `RegistryAccess`
/// dict, read as the Rust `RegistryAccess`.
pub(crate) fn registry_access(target: &Bound<'_, PyAny>) -> PyResult<RegistryAccess> {
    match target.extract::<String>() {
        Ok(registry) => Ok(RegistryAccess::new(registry)),
        Err(_) => read::<RegistryAccess>(target),
    }
}

/// A package given as one path or as its parts in order.
#[derive(FromPyObject)]
enum PackageSource {
    Parts(Vec<PathBuf>),
    File(PathBuf),
}

#[pymethods]
impl Market {
    /// Opens the market at `root`, creating an empty one when the
    /// directory does not exist or is empty.
    #[new]
    #[pyo3(signature = (root, **options))]
    fn new(py: Python<'_>, root: PathBuf, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let options: MarketOptions = kwargs_options(options)?;
        py.detach(|| RustMarket::open_with(&root, &options))
            .map(|inner| Market { inner })
            .map_err(raise)
    }

    /// Same as `Market(root, **options)`.
    #[staticmethod]
    #[pyo3(signature = (root, **options))]
    fn open(py: Python<'_>, root: PathBuf, options: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        Market::new(py, root, options)
    }

    /// The market's directory.
    #[getter]
    fn root(&self) -> PathBuf {
        self.inner.root().to_owned()
    }

    /// Adds the images of an OCI image layout directory (all named ones,
    /// or only `names`); returns each as `{name, digest, reference}`.
    #[pyo3(signature = (directory, names = None))]
    fn add_oci_layout<'py>(
        &self,
        py: Python<'py>,
        directory: PathBuf,
        names: Option<Vec<String>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let names = names.unwrap_or_default();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let added = py
            .detach(|| self.inner.add_oci_layout(&directory, &refs))
            .map_err(raise)?;
        data_to_py(py, &added)
    }

    /// Adds the images of a `docker save` tarball.
    fn add_docker_archive<'py>(
        &self,
        py: Python<'py>,
        tarball: PathBuf,
    ) -> PyResult<Bound<'py, PyAny>> {
        let added = py
            .detach(|| self.inner.add_docker_archive(&tarball))
            .map_err(raise)?;
        data_to_py(py, &added)
    }

    /// Stores a blob (e.g. a logo) and returns its digest.
    fn add_blob(&self, py: Python<'_>, data: &Bound<'_, PyBytes>) -> PyResult<String> {
        let bytes = data.as_bytes().to_vec();
        py.detach(|| self.inner.add_blob(&bytes)).map_err(raise)
    }

    /// Every image the market names, as `{name, digest, reference}`.
    fn images<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let images = py.detach(|| self.inner.images()).map_err(raise)?;
        data_to_py(py, &images)
    }

    /// Publishes a version (valid, draft or testing; its images and logo
    /// already in the market). Returns the outcome dict of `check_publish`.
    #[pyo3(signature = (template, *, overwrite = false))]
    fn publish<'py>(
        &self,
        py: Python<'py>,
        template: PyRef<'py, Template>,
        overwrite: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let overwrite = if overwrite {
            Overwrite::Allow
        } else {
            Overwrite::Refuse
        };
        let version = template.inner.clone();
        let outcome = py
            .detach(|| self.inner.publish(&version, overwrite))
            .map_err(raise)?;
        data_to_py(py, &outcome)
    }

    /// Every template with its versions:
    /// `[{id, name, versions: [{template, version, state, content_digest}]}]`.
    fn templates<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let templates = py.detach(|| self.inner.templates()).map_err(raise)?;
        data_to_py(py, &templates)
    }

    /// The versions of `template`, oldest first, as
    /// `{template, version, state, content_digest}`.
    fn versions<'py>(&self, py: Python<'py>, template: &str) -> PyResult<Bound<'py, PyAny>> {
        let versions = py.detach(|| self.inner.versions(template)).map_err(raise)?;
        data_to_py(py, &versions)
    }

    /// One version's document, validated as it is read: plans to it do
    /// not validate it again.
    fn version(&self, py: Python<'_>, template: &str, version: &str) -> PyResult<Template> {
        py.detach(|| self.inner.version(template, version))
            .map(Template::from)
            .map_err(raise)
    }

    /// One version's document as stored, not validated: it can be shown
    /// and compared even if it fails this release's rules.
    fn document(&self, py: Python<'_>, template: &str, version: &str) -> PyResult<Template> {
        py.detach(|| self.inner.document(template, version))
            .map(Template::from)
            .map_err(raise)
    }

    /// Moves a version to another release state, as the life cycle allows.
    fn set_release_state(
        &self,
        py: Python<'_>,
        template: &str,
        version: &str,
        state: &str,
    ) -> PyResult<()> {
        let state = parse_release_state(state).map_err(core_error)?;
        py.detach(|| self.inner.set_release_state(template, version, state))
            .map_err(raise)
    }

    /// What the market holds (blobs and versions), to hand to whoever
    /// prepares packages for it (`export(..., base_inventory=...)`).
    fn inventory<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let inventory = py.detach(|| self.inner.inventory()).map_err(raise)?;
        data_to_py(py, &inventory)
    }

    /// Writes an offline package of `versions` of `template` to `path`
    /// (or, with `part_size`, to `<path>.part-000`, ...). The keyword
    /// options are the Rust `ExportOptions`: `base` (`"full"`,
    /// `{"versions": [...]}` held by the destination, or `{"inventory":
    /// ...}` its `inventory()`), `signing_key` (secret key file text),
    /// `part_size`, `compression` (`"zstd"` or `"none"`),
    /// `compression_level`. `progress` gets `{phase, bytes_done,
    /// bytes_total, items_done, items_total, item}`; an exception it raises
    /// stops the export (no file is left at `path`, parts written are
    /// removed) and is re-raised. Returns the report (manifest digest,
    /// carried and omitted blobs, archive bytes, files written).
    #[pyo3(signature = (path, template, versions, *, progress = None, **options))]
    fn export<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        template: &str,
        versions: Vec<String>,
        progress: Option<Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: ExportOptions = kwargs_options(options)?;
        let refs: Vec<&str> = versions.iter().map(String::as_str).collect();
        let request = options.request(template, &refs);
        let callback = Callback::new(progress);
        let result = py.detach(|| {
            let mut report = |p: &Progress<'_>| {
                if callback.report(progress_data(p)) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            };
            match options.part_size {
                Some(size) => self
                    .inner
                    .export_to_parts(&request, &path, size.get(), &mut report),
                None => self.inner.export_to_file(&request, &path, &mut report),
            }
        });
        let report = callback.finish(result.map_err(raise))?;
        data_to_py(py, &report)
    }

    /// Imports a package file, or its parts given as a list in order. The
    /// keyword options are the Rust `ImportOptions`: signed packages are
    /// accepted when signed by one of `trusted_keys` (public key file text
    /// or base64 line); unsigned ones only with `allow_unsigned`, unknown
    /// signers only with `allow_untrusted`; `reserve_bytes` of free space
    /// are left untouched. Nothing changes unless every blob verifies.
    /// `progress` gets `{phase, bytes_done, bytes_total, items_done,
    /// items_total, item}`; an exception it raises while blobs are imported
    /// stops the import (the market is unchanged, a rerun reuses what was
    /// staged) and is re-raised; raised once the commit has started, the
    /// import completes and the exception is still re-raised. Returns the
    /// report (versions added or unchanged, signer, blobs written and
    /// skipped).
    #[pyo3(signature = (source, *, progress = None, **options))]
    fn import_package<'py>(
        &self,
        py: Python<'py>,
        source: PackageSource,
        progress: Option<Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: ImportOptions = kwargs_options(options)?;
        let callback = Callback::new(progress);
        let result = py.detach(|| {
            let mut report = |p: &Progress<'_>| {
                if callback.report(progress_data(p)) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            };
            match &source {
                PackageSource::File(path) => self.inner.import_file(path, &options, &mut report),
                PackageSource::Parts(parts) => {
                    self.inner.import_parts(parts, &options, &mut report)
                }
            }
        });
        let report = callback.finish(result.map_err(raise))?;
        data_to_py(py, &report)
    }

    /// Pushes every image of a version to `target` over the OCI
    /// distribution API, skipping what is there. `target` is
    /// `host[:port][/prefix]` or a `RegistryAccess` dict (`registry`,
    /// `insecure`, `username`/`password` or `auth_file`, `ca_file`,
    /// `public_roots`). The keyword options are the Rust
    /// `RelocateOptions` (`parallelism`, `chunk_size`, `push_tags`,
    /// `request_timeout_seconds`). `progress` gets `{event, bytes_done,
    /// bytes_total, blobs_done, blobs_total, item}`; an exception it raises
    /// stops the relocation (a rerun resumes) and is re-raised. Returns the
    /// report with each image's relocated reference.
    #[pyo3(signature = (template, version, target, *, progress = None, **options))]
    fn relocate_version<'py>(
        &self,
        py: Python<'py>,
        template: &str,
        version: &str,
        target: &Bound<'py, PyAny>,
        progress: Option<Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: RelocateOptions = kwargs_options(options)?;
        let target = registry_access(target)?.target().map_err(raise)?;
        let callback = Callback::new(progress);
        let result = py.detach(|| {
            let mut report = |p: &RelocateProgress<'_>| {
                if callback.report(progress_data(p)) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            };
            self.inner
                .relocate_version(template, version, &target, &options, &mut report)
        });
        let report = callback.finish(result.map_err(raise))?;
        data_to_py(py, &report)
    }

    /// Pulls images (`host[:port]/repository[:tag][@sha256:…]`, all on the
    /// source registry) into the market over the OCI distribution API.
    /// `source` is `host[:port]` or a `RegistryAccess` dict, as for
    /// `relocate_version`. The keyword options are the Rust `PullOptions`
    /// (`image_parallelism`, `blob_parallelism`, `platforms`,
    /// `request_timeout_seconds`). `progress` gets `{event, bytes_done,
    /// bytes_total, blobs_done, blobs_total, image, blob}`; an exception it
    /// raises stops the pull (a rerun resumes) and is re-raised. Returns
    /// the report with each image as the market names it.
    #[pyo3(signature = (images, source, *, progress = None, **options))]
    fn pull<'py>(
        &self,
        py: Python<'py>,
        images: Vec<String>,
        source: &Bound<'py, PyAny>,
        progress: Option<Bound<'py, PyAny>>,
        options: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options: PullOptions = kwargs_options(options)?;
        let source = registry_access(source)?.target().map_err(raise)?;
        let callback = Callback::new(progress);
        let result = py.detach(|| {
            let mut report = |p: &PullProgress<'_>| {
                if callback.report(progress_data(p)) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            };
            self.inner.pull(&images, &source, &options, &mut report)
        });
        let report = callback.finish(result.map_err(raise))?;
        data_to_py(py, &report)
    }

    /// Removes a version (released and deprecated ones need `force`).
    /// Blobs are freed by `gc()`.
    #[pyo3(signature = (template, version, *, force = false))]
    fn delete_version(
        &self,
        py: Python<'_>,
        template: &str,
        version: &str,
        force: bool,
    ) -> PyResult<()> {
        py.detach(|| self.inner.delete_version(template, version, force))
            .map_err(raise)
    }

    /// Deletes unreferenced blobs and abandoned imports:
    /// `{blobs_removed, bytes_freed}`.
    fn gc<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let report = py.detach(|| self.inner.gc()).map_err(raise)?;
        data_to_py(py, &report)
    }

    /// Hashes every blob and checks every version has its blobs:
    /// `{blobs_checked, problems}` (problems empty when sound).
    fn verify<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let report = py.detach(|| self.inner.verify()).map_err(raise)?;
        data_to_py(py, &report)
    }

    fn __repr__(&self) -> String {
        format!("<Market {}>", self.inner.root().display())
    }
}

/// A new Ed25519 key pair for signing packages, as the Rust
/// `KeyPairText`: `{"key_id": <hex id>, "public_key": <base64 line>,
/// "public_key_file": <.pub file text>, "secret_key": <secret key file
/// text>}`. Keep the secret one secret.
#[pyfunction]
fn generate_key_pair<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    let pair = rust_generate_key_pair()
        .and_then(|pair| pair.to_text())
        .map_err(raise)?;
    data_to_py(py, &pair)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Market>()?;
    m.add_function(wrap_pyfunction!(generate_key_pair, m)?)
}
