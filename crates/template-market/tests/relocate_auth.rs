//! Relocation to registries that need more than plain HTTP: HTTPS with a
//! private CA (made here with the `openssl` CLI) and htpasswd Basic auth,
//! and the token auth of the distribution spec, with a token service
//! served by this test on 127.0.0.1 that issues RS256 JWTs the registry
//! itself verifies (its `rootcertbundle` is the signing certificate).
//! The registry is Debian's `docker-registry` (distribution 2.8); pushed
//! manifests are checked with `skopeo inspect`.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions; a failure is a test failure"
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use template_market::testkit;
use template_market::testkit::registry::{LocalRegistry, RegistryConfig};
use template_market::{
    ImageRef, Market, MarketError, RegistryTarget, RelocateOptions, RelocateReport,
};

const USER: &str = "relocator";
const PASSWORD: &str = "s3cret-pw";
/// bcrypt of `s3cret-pw`, as `htpasswd -B` writes it.
const HTPASSWD: &str = "relocator:$2b$04$tJVkyZi45N3/B4PVhJBuK.bCypyCMRGFsZyNwZHwk9IxaHVyTFJjO";
const SERVICE: &str = "test-registry";
const ISSUER: &str = "test-token-issuer";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (see .ci/setup)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Keys and certificates made for one test: a CA, a server certificate
/// for 127.0.0.1 signed by it, and a self-signed RSA certificate whose key
/// signs tokens.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=apptemplate test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "token.key",
                "-out",
                "token.crt",
                "-days",
                "2",
                "-subj",
                "/CN=apptemplate test token issuer",
            ],
        );
        openssl(
            d,
            &[
                "pkcs8",
                "-topk8",
                "-nocrypt",
                "-in",
                "token.key",
                "-outform",
                "DER",
                "-out",
                "token.pk8",
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-in",
                "token.crt",
                "-outform",
                "DER",
                "-out",
                "token.der",
            ],
        );
        // skopeo's --cert-dir wants a directory of CA files.
        std::fs::create_dir(d.join("certs.d")).unwrap();
        std::fs::copy(d.join("ca.crt"), d.join("certs.d/ca.crt")).unwrap();
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// How the registry authenticates.
enum Auth<'a> {
    Htpasswd,
    Token { realm: &'a str, pki: &'a Pki },
}

/// The test registry and the files its configuration names.
struct Registry {
    inner: LocalRegistry,
    _files: tempfile::TempDir,
}

impl Registry {
    /// With `tls`, it serves HTTPS with the PKI's server certificate.
    fn start(tls: Option<&Pki>, auth: Auth<'_>) -> Registry {
        let files = tempfile::tempdir().unwrap();
        let auth = match auth {
            Auth::Htpasswd => {
                let path = files.path().join("htpasswd");
                std::fs::write(&path, format!("{HTPASSWD}\n")).unwrap();
                format!(
                    "  htpasswd:\n    realm: test\n    path: {}\n",
                    path.display()
                )
            }
            Auth::Token { realm, pki } => format!(
                "  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
                pki.path("token.crt").display()
            ),
        };
        let config = RegistryConfig {
            tls: tls.map(|pki| (pki.path("server.crt"), pki.path("server.key"))),
            auth: Some(auth),
        };
        let inner = LocalRegistry::start_with(&config).unwrap();
        Registry {
            inner,
            _files: files,
        }
    }

    fn address(&self) -> String {
        self.inner.address()
    }
}

fn options() -> RelocateOptions {
    RelocateOptions {
        parallelism: 3,
        chunk_size: 64 << 10,
        ..Default::default()
    }
}

fn relocate(
    market: &Market,
    version: &str,
    target: &RegistryTarget,
) -> Result<RelocateReport, MarketError> {
    market.relocate_version("pig", version, target, &options(), &mut |p| {
        assert!(p.bytes_done <= p.bytes_total, "{p:?}");
        ControlFlow::Continue(())
    })
}

fn pushed_nothing(report: &RelocateReport) -> bool {
    report.counts.blobs_uploaded + report.counts.blobs_mounted + report.counts.manifests_pushed == 0
        && report.counts.bytes_uploaded == 0
}

/// Checks with skopeo that every image is in the registry under its
/// relocated reference, with the same digest.
fn skopeo_confirms(target: &RegistryTarget, images: &[ImageRef], tls: &[&str]) {
    for image in images {
        let reference = target.relocated_reference(image).unwrap();
        let out = Command::new("skopeo")
            .arg("inspect")
            .args(tls)
            .args(["--creds", &format!("{USER}:{PASSWORD}")])
            .arg(format!("docker://{reference}"))
            .output()
            .expect("skopeo must be installed (see .ci/setup)");
        assert!(
            out.status.success(),
            "skopeo inspect {reference}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["Digest"].as_str(),
            Some(image.digest.as_str()),
            "{reference}"
        );
    }
}

#[test]
fn https_with_a_private_ca_and_basic_auth() {
    let pki = Pki::new();
    let registry = Registry::start(Some(&pki), Auth::Htpasswd);
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    let (_, images) = testkit::publish_pig(&market, "1.0.0").unwrap();
    let address = format!("{}/mirror", registry.address());

    // Without the CA, the certificate is refused and the error says what
    // to pass.
    let untrusted = RegistryTarget::new(&address).with_credentials(USER, PASSWORD);
    let err = relocate(&market, "1.0.0", &untrusted).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, MarketError::Registry { .. }), "{text}");
    assert!(text.contains(&registry.address()), "{text}");
    assert!(text.contains("not trusted"), "{text}");
    assert!(text.contains("ca_certificates"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");

    // A CA file that is not a certificate is refused up front.
    let not_pem = tmp.path().join("not-a-cert.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let err = RegistryTarget::new(&address)
        .with_ca_file(&not_pem)
        .unwrap_err();
    assert!(err.to_string().contains("no PEM certificate"), "{err}");

    // With the CA but a wrong password: a 401 naming the credentials.
    let trusted = RegistryTarget::new(&address)
        .with_ca_file(pki.path("ca.crt"))
        .unwrap();
    let wrong = trusted.clone().with_credentials(USER, "not-the-password");
    let err = relocate(&market, "1.0.0", &wrong).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("401"), "{text}");
    assert!(
        text.contains("credentials") && text.contains(USER),
        "{text}"
    );
    assert!(!text.contains("not-the-password"), "{text}");
    // And without any: the registry's wish for credentials is explained.
    let err = relocate(&market, "1.0.0", &trusted).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("401") && text.contains("asks for credentials"),
        "{text}"
    );

    // With the CA (on top of the public roots) and the password: pushed.
    let target = trusted.with_credentials(USER, PASSWORD);
    let report = relocate(&market, "1.0.0", &target).unwrap();
    assert_eq!(report.images.len(), images.len());
    assert!(
        report.counts.blobs_uploaded > 0 && report.counts.blobs_mounted > 0,
        "{report:?}"
    );
    assert!(report.counts.manifests_pushed >= images.len(), "{report:?}");
    let cert_dir = format!("--cert-dir={}", pki.path("certs.d").display());
    skopeo_confirms(&target, &images, &[&cert_dir]);

    // Again, trusting only the private CA and with the credentials from an
    // auth file (as `skopeo login --authfile` writes it): nothing to push.
    let auth_file = tmp.path().join("auth.json");
    std::fs::write(
        &auth_file,
        serde_json::json!({"auths": {
            registry.address(): {"auth": base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))},
            "127.0.0.1:1": {"auth": base64::engine::general_purpose::STANDARD.encode("other:x")},
        }})
        .to_string(),
    )
    .unwrap();
    let only_ca = RegistryTarget {
        public_roots: false,
        ..RegistryTarget::new(&address)
            .with_ca_file(pki.path("ca.crt"))
            .unwrap()
            .with_auth_file(&auth_file)
            .unwrap()
    };
    assert!(!format!("{only_ca:?}").contains(PASSWORD));
    let again = relocate(&market, "1.0.0", &only_ca).unwrap();
    assert!(pushed_nothing(&again), "{again:?}");
    assert_eq!(again.counts.blobs_skipped, again.counts.blobs_checked);

    // An auth file without an entry for the registry is an error naming it.
    let elsewhere = tmp.path().join("elsewhere.json");
    std::fs::write(
        &elsewhere,
        r#"{"auths":{"registry.example.com":{"auth":"eDp5"}}}"#,
    )
    .unwrap();
    let err = RegistryTarget::new(&address)
        .with_auth_file(&elsewhere)
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("elsewhere.json") && text.contains("no entry"),
        "{text}"
    );
}

/// One token request as the token service saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TokenRequest {
    /// The authenticated user, or none for anonymous requests.
    user: Option<String>,
    /// The requested scopes, sorted.
    scopes: Vec<String>,
    /// Whether the credentials were refused.
    refused: bool,
}

#[derive(Debug)]
struct TokenPolicy {
    /// `expires_in` of the answers.
    expires_in: u64,
    /// The first token issued for each scope set is already expired (the
    /// registry refuses it; the answer claims otherwise).
    expire_first: bool,
    issued: BTreeMap<Vec<String>, usize>,
    log: Vec<TokenRequest>,
}

/// A token service on 127.0.0.1 (`GET /token?service=…&scope=…`): `USER`
/// with `PASSWORD` gets what it asks for, anonymous requests get `pull`
/// only, other credentials get 401. Tokens are RS256 JWTs with the signing
/// certificate in `x5c`, as distribution verifies them.
struct TokenService {
    port: u16,
    policy: Arc<Mutex<TokenPolicy>>,
}

impl TokenService {
    fn start(pki: &Pki) -> TokenService {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let key = Arc::new(
            ring::signature::RsaKeyPair::from_pkcs8(&std::fs::read(pki.path("token.pk8")).unwrap())
                .unwrap(),
        );
        let cert = base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(pki.path("token.der")).unwrap());
        let policy = Arc::new(Mutex::new(TokenPolicy {
            expires_in: 300,
            expire_first: false,
            issued: BTreeMap::new(),
            log: Vec::new(),
        }));
        let shared = policy.clone();
        // Serves until the test process ends; each connection on a thread.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (key, cert, policy) = (key.clone(), cert.clone(), shared.clone());
                std::thread::spawn(move || serve_token(stream, &key, &cert, &policy));
            }
        });
        TokenService { port, policy }
    }

    fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    fn take_log(&self) -> Vec<TokenRequest> {
        std::mem::take(&mut self.policy.lock().unwrap().log)
    }

    fn set(&self, expires_in: u64, expire_first: bool) {
        let mut p = self.policy.lock().unwrap();
        p.expires_in = expires_in;
        p.expire_first = expire_first;
        p.issued.clear();
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn serve_token(
    stream: TcpStream,
    key: &ring::signature::RsaKeyPair,
    cert: &str,
    policy: &Mutex<TokenPolicy>,
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_owned());
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or("");
    let query = target.split_once('?').map_or("", |(_, q)| q);
    let mut scopes = Vec::new();
    let mut service = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "scope" => scopes.extend(percent_decode(value).split(' ').map(str::to_owned)),
            "service" => service = Some(percent_decode(value)),
            _ => {}
        }
    }
    scopes.sort();
    let user = authorization.as_deref().and_then(|a| {
        let encoded = a.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (u, p) = text.split_once(':')?;
        Some((u.to_owned(), p.to_owned()))
    });
    let refused = matches!(&user, Some((u, p)) if u != USER || p != PASSWORD)
        || service.as_deref() != Some(SERVICE);
    let (expires_in, expired) = {
        let mut p = policy.lock().unwrap();
        p.log.push(TokenRequest {
            user: user.as_ref().map(|(u, _)| u.clone()),
            scopes: scopes.clone(),
            refused,
        });
        let n = p.issued.entry(scopes.clone()).or_insert(0);
        *n += 1;
        let first = *n == 1;
        (p.expires_in, p.expire_first && first)
    };
    let (status, body) = if refused {
        (
            "401 Unauthorized",
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication failed"}]}"#.to_owned(),
        )
    } else {
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .filter_map(|s| {
                // Listing repositories: for users with credentials.
                if s == "registry:catalog:*" {
                    return user.is_some().then(
                        || serde_json::json!({"type": "registry", "name": "catalog", "actions": ["*"]}),
                    );
                }
                let rest = s.strip_prefix("repository:")?;
                let (name, actions) = rest.rsplit_once(':')?;
                let granted: Vec<&str> = actions
                    .split(',')
                    .filter(|a| user.is_some() || *a == "pull")
                    .collect();
                Some(serde_json::json!({"type": "repository", "name": name, "actions": granted}))
            })
            .collect();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let exp = if expired { now - 3600 } else { now + 300 };
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [cert]});
        let claims = serde_json::json!({
            "iss": ISSUER,
            "sub": user.as_ref().map_or("", |(u, _)| u.as_str()),
            "aud": SERVICE,
            "exp": exp,
            "nbf": now - 7200,
            "iat": now - 7200,
            "jti": format!("{now}-{}", scopes.join(",")),
            "access": access,
        });
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let signed = format!(
            "{}.{}",
            b64.encode(header.to_string()),
            b64.encode(claims.to_string())
        );
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .unwrap();
        let token = format!("{signed}.{}", b64.encode(signature));
        // Anonymous answers use the OAuth name of the field.
        let field = if user.is_some() {
            "token"
        } else {
            "access_token"
        };
        (
            "200 OK",
            serde_json::json!({field: token, "expires_in": expires_in}).to_string(),
        )
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.flush();
}

#[test]
fn token_auth_against_a_registry_that_verifies_the_tokens() {
    let pki = Pki::new();
    let tokens = TokenService::start(&pki);
    let realm = tokens.realm();
    let registry = Registry::start(
        None,
        Auth::Token {
            realm: &realm,
            pki: &pki,
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    let (_, images) = testkit::publish_pig(&market, "1.0.0").unwrap();
    let anonymous = RegistryTarget {
        insecure: true,
        ..RegistryTarget::new(format!("{}/mirror", registry.address()))
    };

    // HTTPS expected, plain HTTP served: a TLS error that says so.
    let err = relocate(
        &market,
        "1.0.0",
        &RegistryTarget::new(format!("{}/mirror", registry.address())),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("TLS") && err.to_string().contains("insecure"),
        "{err}"
    );

    // The token service refuses a wrong password: a clear error, no secret.
    let wrong = anonymous.clone().with_credentials(USER, "not-the-password");
    let err = relocate(&market, "1.0.0", &wrong).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, MarketError::Registry { .. }), "{text}");
    assert!(
        text.contains(&format!("token service {realm} refused")),
        "{text}"
    );
    assert!(text.contains(USER) && text.contains("401"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");
    let log = tokens.take_log();
    assert!(!log.is_empty() && log.iter().all(|r| r.refused), "{log:?}");

    // Anonymous tokens allow pulling only: checking works, pushing is
    // refused by the registry.
    let err = relocate(&market, "1.0.0", &anonymous).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("401") && text.contains("credentials"),
        "{text}"
    );
    let log = tokens.take_log();
    assert!(
        log.iter().all(|r| r.user.is_none() && !r.refused),
        "{log:?}"
    );

    // With credentials: pushed, each scope set's token fetched once.
    let target = anonymous.clone().with_credentials(USER, PASSWORD);
    let report = relocate(&market, "1.0.0", &target).unwrap();
    assert!(report.counts.blobs_uploaded > 0, "{report:?}");
    // Cross-repository mounts: the token also allows pulling the source.
    assert!(report.counts.blobs_mounted > 0, "{report:?}");
    assert!(report.counts.manifests_pushed >= images.len(), "{report:?}");
    let log = tokens.take_log();
    assert!(
        log.iter().all(|r| r.user.as_deref() == Some(USER)),
        "{log:?}"
    );
    let mut scope_sets: Vec<&Vec<String>> = log.iter().map(|r| &r.scopes).collect();
    let fetched = scope_sets.len();
    scope_sets.sort();
    scope_sets.dedup();
    assert_eq!(
        fetched,
        scope_sets.len(),
        "a token was fetched twice: {log:?}"
    );
    assert!(
        log.iter()
            .any(|r| r.scopes.len() == 2 && r.scopes.iter().any(|s| s.ends_with(":pull"))),
        "no mount scope: {log:?}"
    );
    skopeo_confirms(&target, &images, &["--tls-verify=false"]);
    tokens.take_log();

    // A rerun pushes nothing; with anonymous pull tokens too.
    let again = relocate(&market, "1.0.0", &target).unwrap();
    assert!(pushed_nothing(&again), "{again:?}");
    let again = relocate(&market, "1.0.0", &anonymous).unwrap();
    assert!(pushed_nothing(&again), "{again:?}");
    assert_eq!(again.counts.blobs_skipped, again.counts.blobs_checked);
    tokens.take_log();

    // Tokens that expire at once (`expires_in: 0`) are fetched again.
    tokens.set(0, false);
    let again = relocate(&market, "1.0.0", &target).unwrap();
    assert!(pushed_nothing(&again), "{again:?}");
    let log = tokens.take_log();
    let mut scope_sets: Vec<&Vec<String>> = log.iter().map(|r| &r.scopes).collect();
    let fetched = scope_sets.len();
    scope_sets.sort();
    scope_sets.dedup();
    assert!(
        fetched > scope_sets.len(),
        "expires_in was not honoured: {log:?}"
    );

    // The registry refuses the first token of each scope set (it is
    // expired): the client fetches a new one once and goes on.
    tokens.set(300, true);
    let (_, images_2) = testkit::publish_pig(&market, "2.0.0").unwrap();
    let report = relocate(&market, "2.0.0", &target).unwrap();
    assert!(report.counts.blobs_uploaded > 0, "{report:?}");
    let log = tokens.take_log();
    let mut per_scope: BTreeMap<&Vec<String>, usize> = BTreeMap::new();
    for r in &log {
        *per_scope.entry(&r.scopes).or_default() += 1;
    }
    assert!(per_scope.values().all(|n| *n == 2), "{per_scope:?}");
    tokens.set(300, false);
    skopeo_confirms(&target, &images_2, &["--tls-verify=false"]);
}

#[test]
fn credentials_are_not_sent_to_a_plain_http_token_service_of_an_https_registry() {
    let pki = Pki::new();
    let tokens = TokenService::start(&pki);
    let realm = tokens.realm();
    let registry = Registry::start(
        Some(&pki),
        Auth::Token {
            realm: &realm,
            pki: &pki,
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let market = Market::open(tmp.path().join("market")).unwrap();
    testkit::publish_pig(&market, "1.0.0").unwrap();
    let target = RegistryTarget::new(format!("{}/mirror", registry.address()))
        .with_ca_file(pki.path("ca.crt"))
        .unwrap()
        .with_credentials(USER, PASSWORD);
    let err = relocate(&market, "1.0.0", &target).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("plain-HTTP token service") && text.contains(&realm),
        "{text}"
    );
    assert!(tokens.take_log().is_empty());
}

/// Pushes synthetic images with `skopeo copy` (as `USER`) to
/// `<registry>/shop/<name>:1.0`; returns each reference with the digest
/// the registry serves for it.
fn skopeo_push_images(registry: &Registry, pki: &Pki, names: &[&str]) -> Vec<(String, String)> {
    let layout = tempfile::tempdir().unwrap();
    let images: Vec<testkit::SyntheticImage> = names
        .iter()
        .map(|n| testkit::synthetic_image(n, testkit::LayerSizes::default()).unwrap())
        .collect();
    testkit::write_oci_layout(layout.path(), &images).unwrap();
    let cert_dir = pki.path("certs.d");
    let creds = format!("{USER}:{PASSWORD}");
    names
        .iter()
        .map(|n| {
            let reference = format!("{}/shop/{n}:1.0", registry.address());
            let out = Command::new("skopeo")
                .args(["copy", "--quiet", "--dest-creds", &creds, "--dest-cert-dir"])
                .arg(&cert_dir)
                .arg(format!("oci:{}:{n}", layout.path().display()))
                .arg(format!("docker://{reference}"))
                .output()
                .expect("skopeo must be installed (see .ci/setup)");
            assert!(
                out.status.success(),
                "skopeo copy {reference}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let out = Command::new("skopeo")
                .args(["inspect", "--raw", "--creds", &creds, "--cert-dir"])
                .arg(&cert_dir)
                .arg(format!("docker://{reference}"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            (reference, template_core::package::sha256_of(&out.stdout))
        })
        .collect()
}

fn pull_options() -> template_market::PullOptions {
    template_market::PullOptions {
        blob_parallelism: 3,
        ..Default::default()
    }
}

#[test]
fn pull_over_https_with_a_private_ca_and_token_or_basic_auth() {
    let pki = Pki::new();
    let tmp = tempfile::tempdir().unwrap();

    // Token auth: skopeo pushes with credentials; the market pulls with
    // anonymous pull tokens over HTTPS trusting the private CA.
    let tokens = TokenService::start(&pki);
    let realm = tokens.realm();
    let registry = Registry::start(
        Some(&pki),
        Auth::Token {
            realm: &realm,
            pki: &pki,
        },
    );
    let pushed = skopeo_push_images(&registry, &pki, &["api", "web"]);
    let wanted: Vec<String> = pushed.iter().map(|(r, _)| r.clone()).collect();
    let market = Market::open(tmp.path().join("token")).unwrap();
    tokens.take_log();

    // Without the CA: the certificate is refused, the error names the
    // registry and what to pass.
    let err = market
        .pull(
            &wanted,
            &RegistryTarget::new(registry.address()),
            &pull_options(),
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("not trusted") && text.contains("ca_certificates"),
        "{text}"
    );

    let trusted = RegistryTarget::new(registry.address())
        .with_ca_file(pki.path("ca.crt"))
        .unwrap();
    let report = market
        .pull(&wanted, &trusted, &pull_options(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    for ((reference, digest), pulled) in pushed.iter().zip(&report.images) {
        assert_eq!(&pulled.image.digest, digest, "{reference}");
        assert_eq!(&pulled.image.name, reference);
    }
    assert!(report.blobs_fetched > 0, "{report:?}");
    let log = tokens.take_log();
    assert!(!log.is_empty(), "no token was asked for");
    assert!(
        log.iter().all(|r| r.user.is_none()
            && !r.refused
            && r.scopes.iter().all(|s| s.ends_with(":pull"))),
        "{log:?}"
    );
    assert!(market.verify().unwrap().problems.is_empty());
    let again = market
        .pull(&wanted, &trusted, &pull_options(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(
        again.blobs_fetched + again.manifests_fetched,
        0,
        "{again:?}"
    );

    // Basic auth with the credentials of an auth.json.
    let basic = Registry::start(Some(&pki), Auth::Htpasswd);
    let pushed = skopeo_push_images(&basic, &pki, &["api"]);
    let wanted: Vec<String> = pushed.iter().map(|(r, _)| r.clone()).collect();
    let market = Market::open(tmp.path().join("basic")).unwrap();
    let trusted = RegistryTarget::new(basic.address())
        .with_ca_file(pki.path("ca.crt"))
        .unwrap();
    let err = market
        .pull(&wanted, &trusted, &pull_options(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("401") && text.contains(&wanted[0]), "{text}");
    let auth = tmp.path().join("auth.json");
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        &auth,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{encoded}"}}}}}}"#,
            basic.address()
        ),
    )
    .unwrap();
    let report = market
        .pull(
            &wanted,
            &trusted.with_auth_file(&auth).unwrap(),
            &pull_options(),
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap();
    assert_eq!(report.images[0].image.digest, pushed[0].1);
    assert!(market.verify().unwrap().problems.is_empty());
}

/// The market on a registry that needs more than plain HTTP: over HTTPS
/// by a private CA with Basic auth, and with the token auth of the
/// distribution spec. The access settings are relocation's (a
/// `registries` entry with the CA file and credentials); with them it
/// publishes, lists, releases and fetches. With anonymous tokens, reading
/// works and a release is refused with an error naming the registry and
/// repository.
#[test]
fn a_registry_market_over_https_and_with_token_auth() {
    use template_market::{PullOptions, RegistryAccess, RegistryMarket};
    let pki = Pki::new();
    let tokens = TokenService::start(&pki);
    let realm = tokens.realm();
    let https = Registry::start(Some(&pki), Auth::Htpasswd);
    let token = Registry::start(
        None,
        Auth::Token {
            realm: &realm,
            pki: &pki,
        },
    );
    let tmp = tempfile::tempdir().unwrap();
    let vendor = Market::open(tmp.path().join("vendor")).unwrap();
    testkit::publish_pig(&vendor, "1.0.0").unwrap();
    for (registry, tls) in [(&https, true), (&token, false)] {
        let location = format!("oci://{}/vendor", registry.address());
        let access = RegistryAccess {
            username: Some(USER.to_owned()),
            password: Some(PASSWORD.to_owned()),
            ca_file: tls.then(|| pki.path("ca.crt")),
            insecure: !tls,
            ..RegistryAccess::new(registry.address())
        };
        let market = RegistryMarket::open(&location, std::slice::from_ref(&access)).unwrap();
        let report = market
            .publish_from(
                &vendor,
                "pig",
                "1.0.0",
                template_core::Overwrite::Refuse,
                &options(),
                &mut |_| ControlFlow::Continue(()),
            )
            .unwrap();
        assert!(report.transfer.counts.blobs_uploaded > 0);
        market
            .set_release_state(
                "pig",
                "1.0.0",
                template_core::ReleaseState::Testing,
                None,
                SystemTime::now(),
            )
            .unwrap();
        let templates = market.templates().unwrap();
        assert_eq!(
            templates[0].versions[0].state,
            template_core::ReleaseState::Testing
        );
        let site = Market::open(tmp.path().join(format!("site-{tls}"))).unwrap();
        market
            .fetch_into(&site, "pig", "1.0.0", &PullOptions::default(), &mut |_| {
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(
            site.versions("pig").unwrap()[0].state,
            template_core::ReleaseState::Testing
        );
    }

    // Anonymous tokens allow pulling only.
    let location = format!("oci://{}/vendor", token.address());
    let anonymous = RegistryAccess {
        insecure: true,
        ..RegistryAccess::new(token.address())
    };
    let reader = RegistryMarket::open(&location, &[anonymous]).unwrap();
    assert_eq!(reader.versions("pig").unwrap().len(), 1);
    let err = reader
        .set_release_state(
            "pig",
            "1.0.0",
            template_core::ReleaseState::Released,
            None,
            SystemTime::now(),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&token.address()), "{text}");
    assert!(text.contains("vendor/templates/pig"), "{text}");
    assert!(text.contains("401") || text.contains("403"), "{text}");
}
