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
use std::time::Duration;

use apptemplate_interop::{parse_release_state, to_data};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::{Value, json};
use template_core::Overwrite;
use template_core::package::Inventory;
use template_market::{
    Compression, ExportBase, ExportRequest, ImportOptions, Market as RustMarket, MarketOptions,
    Progress, PublicKey, RegistryTarget, RelocateOptions, RelocateProgress, SecretKey, Trust,
    generate_key_pair as rust_generate_key_pair,
};

use crate::convert::{data_to_py, value_to_py};
use crate::document::Template;
use crate::errors::{invalid_argument, raise};
use crate::plans::read;
use crate::progress::Callback;

/// A local market rooted at a directory (created when missing or empty).
#[pyclass(name = "Market", module = "apptemplate", frozen)]
#[derive(Debug, Clone)]
pub(crate) struct Market {
    pub(crate) inner: RustMarket,
}

/// A progress report as its Rust JSON, for the `progress` callable.
fn progress_data<T: serde::Serialize>(report: &T) -> Value {
    to_data(report).unwrap_or(Value::Null)
}

/// A public key from minisign's `.pub` file text or its base64 line.
fn public_key(text: &str) -> PyResult<PublicKey> {
    let parsed = if text.trim_start().starts_with("untrusted comment:") {
        PublicKey::from_file_text(text)
    } else {
        PublicKey::from_base64(text)
    };
    parsed.map_err(raise)
}

/// How to reach a registry: TLS trust and credentials.
#[derive(Debug, Default)]
pub(crate) struct RegistryAccess {
    pub(crate) insecure: bool,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) auth_file: Option<PathBuf>,
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) public_roots: bool,
}

/// The registry and its access, as `relocate_version` and `Delivery` take
/// them.
pub(crate) fn registry_target(registry: &str, access: RegistryAccess) -> PyResult<RegistryTarget> {
    let mut target = RegistryTarget::new(registry);
    target.insecure = access.insecure;
    target.public_roots = access.public_roots;
    match (access.username, access.password) {
        (Some(user), Some(password)) => target = target.with_credentials(user, password),
        (None, None) => {}
        _ => {
            return Err(invalid_argument(
                "username",
                "give both username and password, or neither",
            ));
        }
    }
    if let Some(path) = access.auth_file {
        target = target.with_auth_file(&path).map_err(raise)?;
    }
    if let Some(path) = access.ca_file {
        target = target.with_ca_file(&path).map_err(raise)?;
    }
    Ok(target)
}

/// Relocation tuning; unset values keep the Rust defaults.
pub(crate) fn relocate_options(
    parallelism: Option<usize>,
    chunk_size: Option<u64>,
    push_tags: Option<bool>,
    request_timeout: Option<f64>,
) -> PyResult<RelocateOptions> {
    let mut options = RelocateOptions::default();
    if let Some(p) = parallelism {
        if p == 0 {
            return Err(invalid_argument("parallelism", "must be at least 1"));
        }
        options.parallelism = p;
    }
    if let Some(c) = chunk_size {
        options.chunk_size = c;
    }
    if let Some(t) = push_tags {
        options.push_tags = t;
    }
    if let Some(seconds) = request_timeout {
        options.request_timeout = Duration::try_from_secs_f64(seconds)
            .map_err(|e| invalid_argument("request_timeout", format!("{seconds} seconds: {e}")))?;
    }
    Ok(options)
}

/// What a package leaves out: nothing, base versions, or an inventory.
fn export_base(
    base_versions: Option<Vec<String>>,
    base_inventory: Option<&Bound<'_, PyAny>>,
) -> PyResult<ExportBase> {
    match (base_versions, base_inventory.filter(|i| !i.is_none())) {
        (Some(_), Some(_)) => Err(invalid_argument(
            "base_versions",
            "give base_versions or base_inventory, not both",
        )),
        (Some(versions), None) => Ok(ExportBase::Versions(versions)),
        (None, Some(inventory)) => Ok(ExportBase::Inventory(read::<Inventory>(inventory)?)),
        (None, None) => Ok(ExportBase::Full),
    }
}

/// Package compression: `"zstd"` (default, level 3) or `"none"`.
fn compression(name: Option<&str>, level: Option<i32>) -> PyResult<Compression> {
    let workers = std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(1))
        .unwrap_or(1);
    match name.unwrap_or("zstd") {
        "zstd" => Ok(Compression::Zstd {
            level: level.unwrap_or(3),
            workers,
        }),
        "none" => Ok(Compression::None),
        other => Err(invalid_argument(
            "compression",
            format!("`{other}` is not a compression; use \"zstd\" or \"none\""),
        )),
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
    /// `lock_timeout` (seconds) bounds every wait for the market's lock.
    #[new]
    #[pyo3(signature = (root, *, lock_timeout = None))]
    fn new(py: Python<'_>, root: PathBuf, lock_timeout: Option<f64>) -> PyResult<Self> {
        let mut options = MarketOptions::default();
        if let Some(seconds) = lock_timeout {
            options.lock_timeout = Some(Duration::try_from_secs_f64(seconds).map_err(|e| {
                invalid_argument("lock_timeout", format!("{seconds} seconds: {e}"))
            })?);
        }
        py.detach(|| RustMarket::open_with(&root, &options))
            .map(|inner| Market { inner })
            .map_err(raise)
    }

    /// Same as `Market(root, lock_timeout=...)`.
    #[staticmethod]
    #[pyo3(signature = (root, *, lock_timeout = None))]
    fn open(py: Python<'_>, root: PathBuf, lock_timeout: Option<f64>) -> PyResult<Self> {
        Market::new(py, root, lock_timeout)
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

    /// One version's document.
    fn version(&self, py: Python<'_>, template: &str, version: &str) -> PyResult<Template> {
        py.detach(|| self.inner.version(template, version))
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
        let state = parse_release_state(state).map_err(|m| invalid_argument("state", m))?;
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
    /// (or, with `part_size`, to `<path>.part-000`, ...). Differential
    /// against `base_versions` (held by the destination) or
    /// `base_inventory` (the destination's `inventory()`); signed with
    /// `signing_key` (secret key file text). `progress` gets
    /// `{phase, bytes_done, bytes_total, items_done, items_total, item}`;
    /// an exception it raises stops the export (no file is left at `path`,
    /// parts written are removed) and is re-raised.
    /// Returns the report (manifest digest, carried and omitted blobs,
    /// archive bytes, files written).
    #[pyo3(signature = (path, template, versions, *, base_versions = None, base_inventory = None,
                        signing_key = None, part_size = None, compression = None,
                        compression_level = None, allow_draft = false, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn export<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        template: &str,
        versions: Vec<String>,
        base_versions: Option<Vec<String>>,
        base_inventory: Option<&Bound<'py, PyAny>>,
        signing_key: Option<&str>,
        part_size: Option<u64>,
        compression: Option<&str>,
        compression_level: Option<i32>,
        allow_draft: bool,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let refs: Vec<&str> = versions.iter().map(String::as_str).collect();
        let mut request = ExportRequest::new(template, &refs);
        request.allow_draft = allow_draft;
        let mut request = request
            .with_base(export_base(base_versions, base_inventory)?)
            .with_compression(self::compression(compression, compression_level)?);
        if let Some(text) = signing_key {
            request = request.signed_with(&SecretKey::from_file_text(text).map_err(raise)?);
        }
        if part_size == Some(0) {
            return Err(invalid_argument("part_size", "must be at least 1 byte"));
        }
        let callback = Callback::new(progress);
        let result = py.detach(|| {
            let mut report = |p: &Progress<'_>| {
                if callback.report(progress_data(p)) {
                    ControlFlow::Continue(())
                } else {
                    ControlFlow::Break(())
                }
            };
            match part_size {
                Some(size) => self
                    .inner
                    .export_to_parts(&request, &path, size, &mut report),
                None => self.inner.export_to_file(&request, &path, &mut report),
            }
        });
        let report = callback.finish(result.map_err(raise))?;
        data_to_py(py, &report)
    }

    /// Imports a package file, or its parts given as a list in order.
    /// Signed packages are accepted when signed by one of `trusted_keys`
    /// (public key file text or base64 line); unsigned ones only with
    /// `allow_unsigned`, unknown signers only with `allow_untrusted`.
    /// Nothing changes unless every blob verifies. `progress` gets
    /// `{phase, bytes_done, bytes_total, items_done, items_total, item}`;
    /// an exception it raises while blobs are imported stops the import
    /// (the market is unchanged, a rerun reuses what was staged) and is
    /// re-raised; raised once the commit has started, the import completes
    /// and the exception is still re-raised. Returns the report
    /// (versions added or unchanged, signer, blobs written and skipped).
    #[pyo3(signature = (source, *, trusted_keys = None, allow_unsigned = false,
                        allow_untrusted = false, reserve_bytes = 0, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn import_package<'py>(
        &self,
        py: Python<'py>,
        source: PackageSource,
        trusted_keys: Option<Vec<String>>,
        allow_unsigned: bool,
        allow_untrusted: bool,
        reserve_bytes: u64,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let keys = trusted_keys
            .unwrap_or_default()
            .iter()
            .map(|k| public_key(k))
            .collect::<PyResult<Vec<_>>>()?;
        let options = ImportOptions {
            trust: Trust {
                keys,
                allow_unsigned,
                allow_untrusted,
            },
            reserve_bytes,
            ..ImportOptions::default()
        };
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

    /// Pushes every image of a version to `registry` (`host[:port][/prefix]`)
    /// over the OCI distribution API, skipping what is there. Access:
    /// `insecure` (plain HTTP), `username`/`password` or `auth_file` (a
    /// containers `auth.json`), `ca_file` (PEM of a private CA),
    /// `public_roots` (also trust the public root CAs). `progress`
    /// gets `{event, bytes_done, bytes_total, blobs_done, blobs_total, item}`;
    /// an exception it raises stops the relocation (a rerun resumes) and is
    /// re-raised. Returns the report with each image's relocated reference.
    #[pyo3(signature = (template, version, registry, *, insecure = false, username = None,
                        password = None, auth_file = None, ca_file = None, public_roots = true,
                        parallelism = None, chunk_size = None, push_tags = None,
                        request_timeout = None, progress = None))]
    #[allow(clippy::too_many_arguments)]
    fn relocate_version<'py>(
        &self,
        py: Python<'py>,
        template: &str,
        version: &str,
        registry: &str,
        insecure: bool,
        username: Option<String>,
        password: Option<String>,
        auth_file: Option<PathBuf>,
        ca_file: Option<PathBuf>,
        public_roots: bool,
        parallelism: Option<usize>,
        chunk_size: Option<u64>,
        push_tags: Option<bool>,
        request_timeout: Option<f64>,
        progress: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let access = RegistryAccess {
            insecure,
            username,
            password,
            auth_file,
            ca_file,
            public_roots,
        };
        let target = registry_target(registry, access)?;
        let options = relocate_options(parallelism, chunk_size, push_tags, request_timeout)?;
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

/// A new Ed25519 key pair for signing packages:
/// `{"public": <.pub file text>, "public_base64": <line>, "secret": <secret
/// key file text>, "key_id": <hex id>}`. Keep the secret one secret.
#[pyfunction]
fn generate_key_pair<'py>(py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
    let pair = rust_generate_key_pair().map_err(raise)?;
    let data = json!({
        "public": pair.public.to_file_text().map_err(raise)?,
        "public_base64": pair.public.to_base64(),
        "secret": pair.secret.to_file_text().map_err(raise)?,
        "key_id": pair.public.key_id(),
    });
    value_to_py(py, &data)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Market>()?;
    m.add_function(wrap_pyfunction!(generate_key_pair, m)?)
}
