//! The client side of the OCI distribution API that relocation (push) and
//! pulls share: where a registry is and how to reach it
//! ([`RegistryTarget`]), TLS trust, authentication, and a small blocking
//! HTTP client over `ureq` with bounded parallel work.
//!
//! HTTPS trusts the public root CAs and/or the private CA certificates of
//! the [`RegistryTarget`]. Authentication is what the registry asks for
//! (its answer to `GET /v2/`, then any `401`): Basic, or bearer tokens of
//! the distribution token protocol, fetched per repository scope and
//! cached until they expire (module `auth`); credentials can come from a
//! containers/Docker auth file (module `auth_file`).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::catalog::ImageRef;
use crate::error::{MarketError, Result, io_err};

pub(crate) mod auth;
mod auth_file;

use auth::{Credentials, Scheme, TokenAnswer, TokenCache};

/// Where images are relocated to, and how to reach it: TLS trust and
/// credentials. Its `Debug` output hides the password.
///
/// Authentication follows what the registry asks for (its `401` answer's
/// `WWW-Authenticate` challenge): HTTP Basic with [`credentials`], or the
/// token protocol of the distribution spec (`Bearer realm=…,service=…`):
/// a token per repository scope (`pull,push`, plus `pull` on the source
/// repository of a cross-repository mount) is fetched from the realm with
/// the credentials as Basic auth (anonymously without them), cached until
/// its `expires_in` (60 s when absent) runs out, and fetched again once
/// when the registry refuses it.
///
/// ```
/// use template_market::RegistryTarget;
/// let dir = tempfile::tempdir()?;
/// let auth = dir.path().join("auth.json");
/// // `skopeo login --authfile auth.json registry.example.com` writes this.
/// std::fs::write(&auth, r#"{"auths":{"registry.example.com":{"auth":"cmVsb2NhdG9yOnMzY3JldA=="}}}"#)?;
/// let target = RegistryTarget::new("registry.example.com/mirror").with_auth_file(&auth)?;
/// assert_eq!(target.credentials.as_ref().map(|(user, _)| user.as_str()), Some("relocator"));
/// assert!(!format!("{target:?}").contains("s3cret"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`credentials`]: RegistryTarget::credentials
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryTarget {
    /// `host[:port][/prefix]`, as in an environment profile; an image
    /// `registry.example.com/pig/gateway@sha256:…` goes to
    /// `<host>/<prefix>/pig/gateway`.
    pub registry: String,
    /// Use plain HTTP instead of HTTPS (for a registry on 127.0.0.1 or a
    /// trusted network).
    pub insecure: bool,
    /// User name and password, sent as Basic auth to the registry or to
    /// its token service; none means anonymous.
    pub credentials: Option<(String, String)>,
    /// Extra certificate authorities (each a PEM document with one or more
    /// `CERTIFICATE` blocks) trusted for the registry's and its token
    /// service's HTTPS certificates: the private CA of an air-gapped site.
    pub ca_certificates: Vec<Vec<u8>>,
    /// Also trust the public web's root CAs (Mozilla's list, built in);
    /// `true` by [`RegistryTarget::new`]. Set it to `false` to trust only
    /// [`ca_certificates`](RegistryTarget::ca_certificates).
    pub public_roots: bool,
}

impl std::fmt::Debug for RegistryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryTarget")
            .field("registry", &self.registry)
            .field("insecure", &self.insecure)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(user, _)| (user, "<hidden>")),
            )
            .field("ca_certificates", &self.ca_certificates.len())
            .field("public_roots", &self.public_roots)
            .finish()
    }
}

impl RegistryTarget {
    /// An anonymous HTTPS target trusting the public root CAs.
    pub fn new(registry: impl Into<String>) -> Self {
        RegistryTarget {
            registry: registry.into(),
            insecure: false,
            credentials: None,
            ca_certificates: Vec::new(),
            public_roots: true,
        }
    }

    /// This target with a user name and password.
    pub fn with_credentials(
        mut self,
        user: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// This target also trusting the CA certificate(s) of a PEM file (for
    /// a registry whose certificate a private CA signed). Fails when the
    /// file cannot be read or holds no PEM certificate.
    pub fn with_ca_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let pem = std::fs::read(path).map_err(io_err("read the CA certificate file", path))?;
        if let Err(message) = pem_certificates(&pem) {
            return Err(self.config_error(
                &format!("CA certificate file `{}`", path.display()),
                message,
            ));
        }
        self.ca_certificates.push(pem);
        Ok(self)
    }

    /// This target with the credentials a containers auth file
    /// (`auth.json` of `podman login`/`skopeo login --authfile`) or a
    /// Docker `config.json` holds for it: the most specific `auths` entry
    /// matching `host[:port][/prefix]`, its `auth` field being base64
    /// `user:password`. Fails, naming the file, when it cannot be read,
    /// has no matching entry, or the entry cannot be used (credential
    /// helpers and identity tokens are not supported). Nothing but `path`
    /// is read.
    pub fn with_auth_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let json = std::fs::read(path).map_err(io_err("read the registry auth file", path))?;
        let c = auth_file::credentials_from_auth_json(&json, &self.registry).map_err(|p| {
            self.config_error(&format!("auth file `{}`", path.display()), p.to_string())
        })?;
        self.credentials = Some((c.user, c.password));
        Ok(self)
    }

    /// This target with credentials from the first default auth file that
    /// has an entry for it, looked up only when this is called:
    /// `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
    /// `$XDG_CONFIG_HOME/containers/auth.json` (or
    /// `~/.config/containers/auth.json`), then `$DOCKER_CONFIG/config.json`
    /// (or `~/.docker/config.json`). Missing files and files without an
    /// entry for the registry are passed over; when none has one, the
    /// target stays as it was (anonymous unless credentials were set).
    /// A file with a matching but unusable entry, or that is not an auth
    /// file, is an error naming it.
    pub fn with_default_auth_file(self) -> Result<Self> {
        for path in auth_file::default_auth_files(|name| std::env::var_os(name).map(PathBuf::from))
        {
            if !path.is_file() {
                continue;
            }
            let json =
                std::fs::read(&path).map_err(io_err("read the registry auth file", &path))?;
            match auth_file::credentials_from_auth_json(&json, &self.registry) {
                Ok(c) => return Ok(self.with_credentials(c.user, c.password)),
                Err(auth_file::AuthFileProblem::NoEntry { .. }) => continue,
                Err(p) => {
                    return Err(self
                        .config_error(&format!("auth file `{}`", path.display()), p.to_string()));
                }
            }
        }
        Ok(self)
    }

    pub(crate) fn config_error(&self, item: &str, message: String) -> MarketError {
        MarketError::Registry {
            registry: self.registry.clone(),
            item: item.to_owned(),
            message,
        }
    }

    pub(crate) fn host(&self) -> &str {
        let r = self.registry.trim_end_matches('/');
        r.split_once('/').map_or(r, |(h, _)| h)
    }

    pub(crate) fn prefix(&self) -> Option<&str> {
        let r = self.registry.trim_end_matches('/');
        r.split_once('/').map(|(_, p)| p)
    }

    pub(crate) fn base_url(&self) -> String {
        let scheme = if self.insecure { "http" } else { "https" };
        format!("{scheme}://{}", self.host())
    }

    /// Asks the registry how it is reached (`GET /v2/`, over TLS with this
    /// target's trust unless plain HTTP): whether it answers, and how it
    /// authenticates. Fails as a pull or push would, naming the registry
    /// and what to do (certificate not trusted, connection refused, ...).
    /// Credentials are not sent: a wrong password shows only at the first
    /// pull or push.
    ///
    /// ```no_run
    /// let target = template_market::RegistryTarget::new("registry.site.local:5000");
    /// let check = target.check(std::time::Duration::from_secs(10))?;
    /// println!("{} asks for {}", check.url, check.authentication);
    /// # Ok::<(), template_market::MarketError>(())
    /// ```
    pub fn check(&self, request_timeout: Duration) -> Result<RegistryCheck> {
        let client = Client::connect(self, Access::Pull, request_timeout, u64::MAX)?;
        let authentication = match client.scheme() {
            Scheme::Open => "none",
            Scheme::Basic => "basic",
            Scheme::Bearer { .. } => "bearer token",
            Scheme::Unknown => "unknown",
        };
        Ok(RegistryCheck {
            url: format!("{}/v2/", self.base_url()),
            authentication: authentication.to_owned(),
            credentials: self.credentials.is_some(),
        })
    }

    /// The repository an image name lands in, e.g. `mirror/pig/gateway`.
    pub fn repository_for(&self, image_name: &str) -> Result<String> {
        let reference = oci_spec::distribution::Reference::from_str(image_name).map_err(|e| {
            MarketError::Registry {
                registry: self.registry.clone(),
                item: image_name.to_owned(),
                message: format!(
                    "the image name cannot be parsed ({e}); fix the name in the market"
                ),
            }
        })?;
        Ok(match self.prefix() {
            Some(p) => format!("{p}/{}", reference.repository()),
            None => reference.repository().to_owned(),
        })
    }

    /// The reference an image has once relocated: `<registry>/<repository>@<digest>`
    /// (the form `template_k8s::render::relocate_image` renders).
    pub fn relocated_reference(&self, image: &ImageRef) -> Result<String> {
        Ok(format!(
            "{}/{}@{}",
            self.host(),
            self.repository_for(&image.name)?,
            image.digest
        ))
    }
}

/// How a registry answered [`RegistryTarget::check`]. Serializes with its
/// field names.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RegistryCheck {
    /// The URL asked.
    pub url: String,
    /// How it asks clients to authenticate: `none`, `basic`,
    /// `bearer token`, or `unknown` (it answered neither 200 nor 401).
    pub authentication: String,
    /// Whether this target has credentials to answer with.
    pub credentials: bool,
}

/// Runs `work` on every job with `parallelism` threads; results in order.
/// Stops taking jobs when cancelled or after the first error.
pub(crate) fn run_parallel<T: Sync, R: Send>(
    parallelism: usize,
    jobs: &[T],
    cancelled: &AtomicBool,
    what: &str,
    work: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let queue = Mutex::new((0..jobs.len()).collect::<VecDeque<usize>>());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let first_error: Mutex<Option<MarketError>> = Mutex::new(None);
    let failed = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..parallelism.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    if cancelled.load(Ordering::SeqCst) || failed.load(Ordering::SeqCst) {
                        return;
                    }
                    let next = queue.lock().ok().and_then(|mut q| q.pop_front());
                    let Some(i) = next else { return };
                    let Some(job) = jobs.get(i) else { return };
                    match work(job) {
                        Ok(r) => {
                            if let Ok(mut res) = results.lock()
                                && let Some(slot) = res.get_mut(i)
                            {
                                *slot = Some(r);
                            }
                        }
                        Err(e) => {
                            failed.store(true, Ordering::SeqCst);
                            if let Ok(mut first) = first_error.lock()
                                && first.is_none()
                            {
                                *first = Some(e);
                            }
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let results = results.into_inner().unwrap_or_default();
    let mut out = Vec::with_capacity(results.len());
    for r in results {
        match r {
            Some(r) => out.push(r),
            None => {
                return Err(MarketError::Cancelled {
                    what: what.to_owned(),
                });
            }
        }
    }
    Ok(out)
}

/// The TLS settings of a target: the public roots, its CA certificates, or
/// both.
fn tls_config(target: &RegistryTarget) -> Result<ureq::tls::TlsConfig> {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    if target.ca_certificates.is_empty() && target.public_roots {
        return Ok(TlsConfig::default());
    }
    let mut roots: Vec<Certificate<'static>> = Vec::new();
    for (i, pem) in target.ca_certificates.iter().enumerate() {
        let certs = pem_certificates(pem)
            .map_err(|message| target.config_error(&format!("ca_certificates[{i}]"), message))?;
        roots.extend(certs);
    }
    if target.public_roots {
        roots.extend(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .map(|der| Certificate::from_der(der.as_ref()).to_owned()),
        );
    }
    if roots.is_empty() {
        return Err(target.config_error(
            "TLS trust",
            "no certificate authority is trusted (`public_roots` is off and `ca_certificates` is empty); add the registry's CA certificate".to_owned(),
        ));
    }
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::from(roots))
        .build())
}

/// The certificates of a PEM document; an error when it holds none or is
/// not PEM.
fn pem_certificates(
    pem: &[u8],
) -> std::result::Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
            Ok(_) => {}
            Err(e) => return Err(format!("not a valid PEM document ({e})")),
        }
    }
    if certs.is_empty() {
        return Err(
            "holds no PEM certificate (`-----BEGIN CERTIFICATE-----`); give the CA certificate in PEM form"
                .to_owned(),
        );
    }
    Ok(certs)
}

/// The `WWW-Authenticate` challenges of an answer.
fn challenges_of(response: &ureq::http::Response<ureq::Body>) -> Vec<auth::Challenge> {
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(auth::parse_challenges)
        .collect()
}

/// What a token service may answer at most.
const MAX_TOKEN_ANSWER: u64 = 1 << 20;

/// What a client does with repositories: the actions its tokens ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read only (`pull`).
    Pull,
    /// Read and write (`pull,push`).
    Push,
}

impl Access {
    fn actions(self) -> &'static str {
        match self {
            Access::Pull => "pull",
            Access::Push => "pull,push",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Access::Pull => "pull from",
            Access::Push => "push to",
        }
    }
}

pub(crate) type Response = ureq::http::Response<ureq::Body>;

/// A small client of the distribution API.
pub(crate) struct Client<'t> {
    pub(crate) agent: ureq::Agent,
    target: &'t RegistryTarget,
    pub(crate) base: String,
    credentials: Option<Credentials>,
    /// How the registry authenticates, learnt from its challenges.
    scheme: Mutex<Scheme>,
    tokens: TokenCache,
    access: Access,
    /// Blobs larger than this are uploaded in chunks.
    pub(crate) chunk_size: u64,
}

impl<'t> Client<'t> {
    /// The token scopes of working on `repository`.
    pub(crate) fn scopes(&self, repository: &str) -> Vec<String> {
        vec![auth::repository_scope(repository, self.access.actions())]
    }

    /// A client of `target`, having asked the registry (`GET /v2/`) how
    /// it authenticates.
    pub(crate) fn connect(
        target: &'t RegistryTarget,
        access: Access,
        request_timeout: Duration,
        chunk_size: u64,
    ) -> Result<Self> {
        // A plain-HTTP registry may still send clients to an HTTPS token
        // service, so its CA certificates apply too.
        let tls = if target.insecure && target.ca_certificates.is_empty() {
            ureq::tls::TlsConfig::default()
        } else {
            tls_config(target)?
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(request_timeout))
            .tls_config(tls)
            .build()
            .into();
        let client = Client {
            agent,
            target,
            base: target.base_url(),
            credentials: target
                .credentials
                .as_ref()
                .map(|(user, password)| Credentials {
                    user: user.clone(),
                    password: password.clone(),
                }),
            scheme: Mutex::new(Scheme::Unknown),
            tokens: TokenCache::new(),
            access,
            chunk_size: chunk_size.max(1),
        };
        let url = format!("{}/v2/", client.base);
        let response = client
            .agent
            .get(&url)
            .call()
            .map_err(|e| client.transport("GET /v2/", e))?;
        let scheme = match response.status().as_u16() {
            401 => Scheme::from_challenges(&challenges_of(&response))
                .map_or(Scheme::Unknown, |(s, _)| s),
            200..=299 => Scheme::Open,
            _ => Scheme::Unknown,
        };
        client.set_scheme(scheme);
        Ok(client)
    }

    fn scheme(&self) -> Scheme {
        match self.scheme.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_scheme(&self, scheme: Scheme) {
        match self.scheme.lock() {
            Ok(mut s) => *s = scheme,
            Err(poisoned) => *poisoned.into_inner() = scheme,
        }
    }

    pub(crate) fn error(&self, item: &str, message: impl Into<String>) -> MarketError {
        MarketError::Registry {
            registry: self.target.registry.clone(),
            item: item.to_owned(),
            message: message.into(),
        }
    }

    /// A failed request to the registry.
    pub(crate) fn transport(&self, item: &str, e: ureq::Error) -> MarketError {
        self.transport_to(item, self.target.host(), e)
    }

    /// A failed request to `server` (the registry or its token service),
    /// with what to do about it.
    pub(crate) fn transport_to(&self, item: &str, server: &str, e: ureq::Error) -> MarketError {
        use rustls::CertificateError as C;
        let tls = match &e {
            ureq::Error::Rustls(t) => Some(t),
            // rustls errors met while reading or writing come wrapped.
            ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
            _ => None,
        };
        let message = match tls {
            Some(rustls::Error::InvalidCertificate(cert)) => match cert {
                C::NotValidForName | C::NotValidForNameContext { .. } => format!(
                    "the TLS certificate of {server} is not valid for that name ({e}); connect by a name or address the certificate lists"
                ),
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. } => format!(
                    "the TLS certificate of {server} is expired or not yet valid ({e}); renew it or check the clock"
                ),
                _ => format!(
                    "the TLS certificate of {server} is not trusted ({e}); pass the CA certificate that signed it (PEM) in `ca_certificates` (RegistryTarget::with_ca_file)"
                ),
            },
            Some(_) => format!(
                "the TLS handshake with {server} failed ({e}); check that it serves HTTPS, or for a plain-HTTP registry set `insecure`"
            ),
            None if matches!(e, ureq::Error::Tls(_)) => format!(
                "the TLS handshake with {server} failed ({e}); check that it serves HTTPS, or for a plain-HTTP registry set `insecure`"
            ),
            _ if self.target.insecure => {
                format!("{e}; check that {server} runs and is reachable")
            }
            _ => format!(
                "{e}; check that {server} runs and is reachable; for a plain-HTTP registry set `insecure`"
            ),
        };
        self.error(item, message)
    }

    pub(crate) fn status_error(
        &self,
        item: &str,
        action: &str,
        response: &mut Response,
    ) -> MarketError {
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(4096)
            .read_to_string()
            .unwrap_or_default();
        let hint = match (status.as_u16(), &self.credentials, self.scheme()) {
            (401, None, _) => {
                "; the registry asks for credentials: set `credentials` or read them from an auth file (RegistryTarget::with_auth_file)"
                    .to_owned()
            }
            (401 | 403, Some(c), Scheme::Bearer { realm, .. }) => format!(
                "; the token from {realm} for user `{}` does not allow this: check the credentials and that they may {} this repository",
                c.user,
                self.access.verb()
            ),
            (401 | 403, Some(c), _) => format!(
                "; check the credentials of user `{}` and that they may {} this repository",
                c.user,
                self.access.verb()
            ),
            (403, None, _) => {
                format!("; anonymous access may not {} here: set `credentials`", self.access.verb())
            }
            (404, _, _) => "; check the registry address and prefix".to_owned(),
            _ => String::new(),
        };
        let body = body.trim();
        let sep = if body.is_empty() { "" } else { ": " };
        self.error(item, format!("{action} answered {status}{sep}{body}{hint}"))
    }

    /// The `Authorization` value for a request needing `scopes`: Basic,
    /// a bearer token (cached, unless it is the `rejected` one), or none.
    fn authorization(
        &self,
        item: &str,
        scopes: &[String],
        rejected: Option<&str>,
    ) -> Result<Option<String>> {
        Ok(match self.scheme() {
            Scheme::Open => None,
            Scheme::Unknown | Scheme::Basic => {
                self.credentials.as_ref().map(Credentials::basic_header)
            }
            Scheme::Bearer { realm, service } => {
                let token = self.tokens.get(scopes, rejected, || {
                    self.fetch_token(item, &realm, service.as_deref(), scopes)
                })?;
                Some(format!("Bearer {token}"))
            }
        })
    }

    /// Asks the token service for a token granting `scopes`.
    fn fetch_token(
        &self,
        item: &str,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<TokenAnswer> {
        let server = realm.split('?').next().unwrap_or(realm);
        if self.credentials.is_some() && realm.starts_with("http://") && !self.target.insecure {
            return Err(self.error(
                item,
                format!(
                    "the registry sends clients to the plain-HTTP token service {server}; credentials are not sent there unencrypted: serve the token service over HTTPS (or set `insecure` on a trusted network)"
                ),
            ));
        }
        if !realm.starts_with("http://") && !realm.starts_with("https://") {
            return Err(self.error(
                item,
                format!("the registry's token realm `{server}` is not an http(s) URL; fix the registry's token auth settings"),
            ));
        }
        let url = auth::token_url(
            realm,
            service,
            scopes,
            self.credentials.as_ref().map(|c| c.user.as_str()),
        );
        let mut request = self.agent.get(&url);
        if let Some(c) = &self.credentials {
            request = request.header("Authorization", c.basic_header());
        }
        let mut response = request
            .call()
            .map_err(|e| self.transport_to(item, server, e))?;
        let status = response.status();
        if status.is_success() {
            let body = response
                .body_mut()
                .with_config()
                .limit(MAX_TOKEN_ANSWER)
                .read_to_vec()
                .map_err(|e| self.transport_to(item, server, e))?;
            return auth::parse_token_answer(&body).map_err(|m| {
                self.error(
                    item,
                    format!("the token service {server} answered {status} but {m}; check the registry's token realm"),
                )
            });
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(4096)
            .read_to_string()
            .unwrap_or_default();
        let who = match &self.credentials {
            Some(c) => format!("the credentials of user `{}`", c.user),
            None => "anonymous access".to_owned(),
        };
        let hint = match (status.as_u16(), &self.credentials) {
            (401 | 403, Some(_)) => {
                "check the user name and password (or the auth file they came from)"
            }
            (401 | 403, None) => "set `credentials` or read them from an auth file",
            _ => "check the token service",
        };
        Err(self.error(
            item,
            format!(
                "the token service {server} refused {who} ({status}): {}; {hint}",
                body.trim()
            ),
        ))
    }

    /// Sends a request (`attempt`, given the `Authorization` value) with
    /// the authentication the registry wants; after a `401` naming a
    /// scheme it can meet (a new token, or Basic credentials it was not
    /// sent), sends it once more.
    pub(crate) fn send(
        &self,
        item: &str,
        scopes: &[String],
        mut attempt: impl FnMut(Option<&str>) -> Result<Response>,
    ) -> Result<Response> {
        let auth = self.authorization(item, scopes, None)?;
        let response = attempt(auth.as_deref())?;
        if response.status().as_u16() != 401 {
            return Ok(response);
        }
        let Some((scheme, asked)) = Scheme::from_challenges(&challenges_of(&response)) else {
            return Ok(response);
        };
        let sent_basic = auth.as_deref().is_some_and(|a| a.starts_with("Basic "));
        if scheme == Scheme::Basic && (self.credentials.is_none() || sent_basic) {
            self.set_scheme(scheme);
            return Ok(response);
        }
        self.set_scheme(scheme);
        let mut scopes = scopes.to_vec();
        auth::merge_scopes(&mut scopes, asked);
        let rejected = auth.as_deref().and_then(|a| a.strip_prefix("Bearer "));
        let auth = self.authorization(item, &scopes, rejected)?;
        attempt(auth.as_deref())
    }

    /// [`Client::send`] for a request that can be repeated without harm
    /// (`GET`, `HEAD`, `PUT` of a manifest): a `500`, `502`, `503` or
    /// `504` answer is retried up to three times (after 50, 200 and
    /// 800 ms), as registries answer so while another client writes the
    /// same repository.
    pub(crate) fn send_idempotent(
        &self,
        item: &str,
        scopes: &[String],
        mut attempt: impl FnMut(Option<&str>) -> Result<Response>,
    ) -> Result<Response> {
        let mut delay = Duration::from_millis(50);
        for _ in 0..3 {
            let response = self.send(item, scopes, &mut attempt)?;
            if !matches!(response.status().as_u16(), 500 | 502 | 503 | 504) {
                return Ok(response);
            }
            std::thread::sleep(delay);
            delay *= 4;
        }
        self.send(item, scopes, attempt)
    }

    pub(crate) fn with_auth<B>(
        req: ureq::RequestBuilder<B>,
        auth: Option<&str>,
    ) -> ureq::RequestBuilder<B> {
        match auth {
            Some(a) => req.header("Authorization", a),
            None => req,
        }
    }

    /// Resolves a `Location` header against the registry's base URL.
    pub(crate) fn location(&self, item: &str, response: &Response) -> Result<String> {
        let loc = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.error(item, "the upload answer has no Location header"))?;
        Ok(
            if loc.starts_with("http://") || loc.starts_with("https://") {
                loc.to_owned()
            } else {
                format!("{}{}", self.base, loc)
            },
        )
    }

    pub(crate) fn has_blob(&self, repository: &str, digest: &str) -> Result<bool> {
        let item = format!("{repository}@{digest}");
        let url = format!("{}/v2/{repository}/blobs/{digest}", self.base);
        let mut response = self.send_idempotent(&item, &self.scopes(repository), |auth| {
            Self::with_auth(self.agent.head(&url), auth)
                .call()
                .map_err(|e| self.transport(&item, e))
        })?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error(&item, "HEAD blob", &mut response)),
        }
    }

    /// A manifest by reference (at most `limit` bytes) and the media type
    /// the registry served it as.
    pub(crate) fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
        accept: &str,
        limit: u64,
    ) -> Result<(Vec<u8>, Option<String>)> {
        let item = format!("{repository}@{reference}");
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.base);
        let mut response = self.send_idempotent(&item, &self.scopes(repository), |auth| {
            Self::with_auth(self.agent.get(&url), auth)
                .header("Accept", accept)
                .call()
                .map_err(|e| self.transport(&item, e))
        })?;
        if response.status().as_u16() != 200 {
            return Err(self.status_error(&item, "GET manifest", &mut response));
        }
        let media_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned());
        let bytes = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| self.transport(&item, e))?;
        Ok((bytes, media_type))
    }

    /// [`Client::get_manifest`], or none when the registry answers `404`
    /// even after a short wait: for a reference just listed, which
    /// distribution's storage may not serve for an instant while another
    /// client rewrites the repository's links.
    pub(crate) fn get_listed_manifest(
        &self,
        repository: &str,
        reference: &str,
        accept: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>> {
        let mut delay = Duration::from_millis(20);
        for _ in 0..5 {
            if self
                .manifest_digest(repository, reference, accept)?
                .is_some()
            {
                match self.get_manifest(repository, reference, accept, limit) {
                    Ok((bytes, _)) => return Ok(Some(bytes)),
                    Err(MarketError::Registry { message, .. }) if message.contains("404") => {}
                    Err(e) => return Err(e),
                }
            }
            std::thread::sleep(delay);
            delay *= 3;
        }
        Ok(None)
    }

    /// Asks for a blob from byte `from` on (`Range`, when not 0); the
    /// answer is `200` (whole), `206` (the rest) or an error status for
    /// the caller to explain. `item` names the blob in errors.
    pub(crate) fn get_blob(
        &self,
        repository: &str,
        digest: &str,
        from: u64,
        item: &str,
    ) -> Result<Response> {
        let url = format!("{}/v2/{repository}/blobs/{digest}", self.base);
        self.send_idempotent(item, &self.scopes(repository), |auth| {
            let mut request = Self::with_auth(self.agent.get(&url), auth);
            if from > 0 {
                request = request.header("Range", format!("bytes={from}-"));
            }
            request.call().map_err(|e| self.transport(item, e))
        })
    }

    /// The digest the registry has for a manifest reference (digest or
    /// tag), or none.
    pub(crate) fn manifest_digest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
    ) -> Result<Option<String>> {
        let item = format!("{repository}:{reference}");
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.base);
        let mut response = self.send_idempotent(&item, &self.scopes(repository), |auth| {
            Self::with_auth(self.agent.head(&url), auth)
                .header("Accept", media_type)
                .call()
                .map_err(|e| self.transport(&item, e))
        })?;
        match response.status().as_u16() {
            200 => Ok(response
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .or_else(|| {
                    reference
                        .starts_with("sha256:")
                        .then(|| reference.to_owned())
                })),
            404 => Ok(None),
            _ => Err(self.status_error(&item, "HEAD manifest", &mut response)),
        }
    }

    /// Puts a manifest under `reference` (a digest or a tag) and checks
    /// the registry stored it byte for byte (`Docker-Content-Digest`).
    pub(crate) fn put_manifest_bytes(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
        digest: &str,
    ) -> Result<()> {
        let item = format!("{repository}:{reference}");
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.base);
        let put = || {
            self.send_idempotent(&item, &self.scopes(repository), |auth| {
                Self::with_auth(self.agent.put(&url), auth)
                    .header("Content-Type", media_type)
                    .send(bytes)
                    .map_err(|e| self.transport(&item, e))
            })
        };
        let mut response = put()?;
        // distribution's filesystem storage rewrites a blob's link in
        // place when another client finishes uploading the same blob to
        // the same repository; a manifest put meanwhile finds it missing.
        // The blob is there: put again, a few times.
        let mut delay = Duration::from_millis(50);
        for _ in 0..3 {
            if response.status().as_u16() != 400 {
                break;
            }
            let body = response
                .body_mut()
                .with_config()
                .limit(4096)
                .read_to_string()
                .unwrap_or_default();
            if !body.contains("MANIFEST_BLOB_UNKNOWN") {
                return Err(self.error(
                    &item,
                    format!("PUT manifest answered 400 Bad Request: {}", body.trim()),
                ));
            }
            std::thread::sleep(delay);
            delay *= 4;
            response = put()?;
        }
        if response.status().as_u16() != 201 {
            return Err(self.status_error(&item, "PUT manifest", &mut response));
        }
        if let Some(d) = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            && d != digest
        {
            return Err(self.error(
                &item,
                format!(
                    "the registry stored the manifest as {d}, not {digest}; it rewrote the manifest, use a registry that keeps manifests byte for byte"
                ),
            ));
        }
        Ok(())
    }

    /// Deletes a manifest by digest (with every tag naming it); `false`
    /// when the registry does not have it.
    pub(crate) fn delete_manifest(&self, repository: &str, digest: &str) -> Result<bool> {
        let item = format!("{repository}@{digest}");
        let url = format!("{}/v2/{repository}/manifests/{digest}", self.base);
        let mut response = self.send_idempotent(&item, &self.scopes(repository), |auth| {
            Self::with_auth(self.agent.delete(&url), auth)
                .call()
                .map_err(|e| self.transport(&item, e))
        })?;
        match response.status().as_u16() {
            202 | 200 => Ok(true),
            404 => Ok(false),
            405 => Err(self.error(
                &item,
                "the registry does not allow deleting (405); enable deletes (distribution: `storage.delete.enabled`) or delete the tag in the registry's own interface",
            )),
            _ => Err(self.status_error(&item, "DELETE manifest", &mut response)),
        }
    }

    /// Uploads a small blob in one request (`POST`, then `PUT` with the
    /// bytes), unless the repository has it already.
    pub(crate) fn put_small_blob(
        &self,
        repository: &str,
        digest: &str,
        bytes: &[u8],
    ) -> Result<()> {
        if self.has_blob(repository, digest)? {
            return Ok(());
        }
        let item = format!("{repository}@{digest}");
        let scopes = self.scopes(repository);
        let url = format!("{}/v2/{repository}/blobs/uploads/", self.base);
        let mut response = self.send(&item, &scopes, |auth| {
            Self::with_auth(self.agent.post(&url), auth)
                .send_empty()
                .map_err(|e| self.transport(&item, e))
        })?;
        if response.status().as_u16() != 202 {
            return Err(self.status_error(&item, "POST blob upload", &mut response));
        }
        let location = self.location(&item, &response)?;
        let sep = if location.contains('?') { '&' } else { '?' };
        let put_url = format!("{location}{sep}digest={digest}");
        let mut response = self.send(&item, &scopes, |auth| {
            Self::with_auth(self.agent.put(&put_url), auth)
                .header("Content-Type", "application/octet-stream")
                .send(bytes)
                .map_err(|e| self.transport(&item, e))
        })?;
        if response.status().as_u16() != 201 {
            return Err(self.status_error(&item, "PUT blob", &mut response));
        }
        Ok(())
    }

    /// A small blob (at most `limit` bytes), checked against its digest.
    pub(crate) fn get_small_blob(
        &self,
        repository: &str,
        digest: &str,
        limit: u64,
    ) -> Result<Vec<u8>> {
        use sha2::Digest as _;
        let item = format!("{repository}@{digest}");
        let mut response = self.get_blob(repository, digest, 0, &item)?;
        if response.status().as_u16() != 200 {
            return Err(self.status_error(&item, "GET blob", &mut response));
        }
        let bytes = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| self.transport(&item, e))?;
        let actual = format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)));
        if actual != digest {
            return Err(self.error(
                &item,
                format!("the registry served a blob that hashes to {actual}; the registry's storage is damaged, push the blob again"),
            ));
        }
        Ok(bytes)
    }

    /// Every tag of a repository (following `Link` pages); none when the
    /// repository does not exist.
    pub(crate) fn tags(&self, repository: &str) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct TagList {
            tags: Option<Vec<String>>,
        }
        let item = format!("{repository} (tags)");
        let mut out = Vec::new();
        let mut url = format!("{}/v2/{repository}/tags/list?n=1000", self.base);
        loop {
            let mut response = self.send_idempotent(&item, &self.scopes(repository), |auth| {
                Self::with_auth(self.agent.get(&url), auth)
                    .call()
                    .map_err(|e| self.transport(&item, e))
            })?;
            match response.status().as_u16() {
                200 => {}
                404 => return Ok(out),
                _ => return Err(self.status_error(&item, "GET tags", &mut response)),
            }
            let next = next_page(&self.base, &response);
            let page: TagList = {
                let bytes = response
                    .body_mut()
                    .with_config()
                    .limit(MAX_LISTING)
                    .read_to_vec()
                    .map_err(|e| self.transport(&item, e))?;
                serde_json::from_slice(&bytes)
                    .map_err(|e| self.error(&item, format!("the registry's answer is not the JSON the distribution API defines: {e}")))?
            };
            out.extend(page.tags.unwrap_or_default());
            match next {
                Some(n) => url = n,
                None => return Ok(out),
            }
        }
    }

    /// Every repository of the registry (`GET /v2/_catalog`, following
    /// `Link` pages).
    pub(crate) fn repositories(&self) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Catalog {
            repositories: Option<Vec<String>>,
        }
        let item = "_catalog";
        let scopes = vec!["registry:catalog:*".to_owned()];
        let mut out = Vec::new();
        let mut url = format!("{}/v2/_catalog?n=1000", self.base);
        loop {
            let mut response = self.send_idempotent(item, &scopes, |auth| {
                Self::with_auth(self.agent.get(&url), auth)
                    .call()
                    .map_err(|e| self.transport(item, e))
            })?;
            if response.status().as_u16() != 200 {
                return Err(self.status_error(
                    item,
                    "GET /v2/_catalog (listing repositories; a registry that disables it can still be used by template id)",
                    &mut response,
                ));
            }
            let next = next_page(&self.base, &response);
            let page: Catalog = {
                let bytes = response
                    .body_mut()
                    .with_config()
                    .limit(MAX_LISTING)
                    .read_to_vec()
                    .map_err(|e| self.transport(item, e))?;
                serde_json::from_slice(&bytes)
                    .map_err(|e| self.error(item, format!("the registry's answer is not the JSON the distribution API defines: {e}")))?
            };
            out.extend(page.repositories.unwrap_or_default());
            match next {
                Some(n) => url = n,
                None => return Ok(out),
            }
        }
    }

    /// The referrers of a manifest through the referrers API
    /// (`GET /v2/<name>/referrers/<digest>`, OCI distribution 1.1); none
    /// when the registry does not offer the API.
    pub(crate) fn referrers_api(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<Vec<oci_spec::image::Descriptor>>> {
        let item = format!("{repository}@{digest} (referrers)");
        let url = format!("{}/v2/{repository}/referrers/{digest}", self.base);
        let mut response = self.send_idempotent(&item, &self.scopes(repository), |auth| {
            Self::with_auth(self.agent.get(&url), auth)
                .header(
                    "Accept",
                    template_core::package::format::OCI_INDEX_MEDIA_TYPE,
                )
                .call()
                .map_err(|e| self.transport(&item, e))
        })?;
        let is_index = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with(template_core::package::format::OCI_INDEX_MEDIA_TYPE));
        match response.status().as_u16() {
            200 if is_index => {}
            // Registries without the API answer 404 (an unknown route) or
            // something that is not an index.
            200 | 404 | 405 => return Ok(None),
            _ => return Err(self.status_error(&item, "GET referrers", &mut response)),
        }
        let index: oci_spec::image::ImageIndex = {
            let bytes = response
                .body_mut()
                .with_config()
                .limit(MAX_LISTING)
                .read_to_vec()
                .map_err(|e| self.transport(&item, e))?;
            serde_json::from_slice(&bytes).map_err(|e| {
                self.error(
                    &item,
                    format!(
                        "the registry's answer is not the JSON the distribution API defines: {e}"
                    ),
                )
            })?
        };
        Ok(Some(index.manifests().clone()))
    }
}

/// Largest listing answer (tags, repositories, referrers) read.
const MAX_LISTING: u64 = 64 << 20;

/// The next page of a listing (`Link: </v2/...>; rel="next"`), as a URL.
fn next_page(base: &str, response: &Response) -> Option<String> {
    let link = response.headers().get("link")?.to_str().ok()?;
    let start = link.find('<')?;
    let end = link.find('>')?;
    let target = link.get(start + 1..end)?;
    if !link.contains("rel=\"next\"") {
        return None;
    }
    Some(
        if target.starts_with("http://") || target.starts_with("https://") {
            target.to_owned()
        } else {
            format!("{base}{target}")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_trust_is_checked_before_connecting() {
        let t = RegistryTarget::new("registry.example.com");
        assert!(tls_config(&t).is_ok());
        let none = RegistryTarget {
            public_roots: false,
            ..t.clone()
        };
        let err = tls_config(&none).unwrap_err().to_string();
        assert!(err.contains("no certificate authority"), "{err}");
        let not_pem = RegistryTarget {
            ca_certificates: vec![b"hello".to_vec()],
            ..t.clone()
        };
        let err = tls_config(&not_pem).unwrap_err().to_string();
        assert!(
            err.contains("ca_certificates[0]") && err.contains("no PEM certificate"),
            "{err}"
        );
        let debug = format!("{not_pem:?}");
        assert!(debug.contains("ca_certificates: 1"), "{debug}");
    }
}
