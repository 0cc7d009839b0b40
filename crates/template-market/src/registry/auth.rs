//! Registry authentication: the `WWW-Authenticate` challenge, Basic
//! credentials, and bearer tokens of the distribution token protocol
//! (fetched from the challenge's realm, cached per scope until they
//! expire).
//!
//! Secrets (passwords, tokens, `Authorization` values) never enter an
//! error message or a `Debug` output.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;

/// One challenge of a `WWW-Authenticate` header: a scheme and its
/// parameters (names lower-cased, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Challenge {
    /// The scheme, lower-cased: `basic`, `bearer`, …
    pub(crate) scheme: String,
    /// `name=value` parameters in order.
    pub(crate) params: Vec<(String, String)>,
}

impl Challenge {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a `WWW-Authenticate` value (RFC 9110 §11.6.1): one or more
/// challenges, each a scheme followed by `name=value` parameters whose
/// values are tokens or quoted strings (which may hold commas and
/// backslash escapes). Malformed parts are skipped, never a panic.
pub(crate) fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    loop {
        p.skip_separators();
        if p.at_end() {
            break;
        }
        let Some(word) = p.token() else {
            // Not a token: skip one character and try again.
            p.i += 1;
            continue;
        };
        p.skip_spaces();
        if p.peek() == Some(b'=') {
            // A parameter of the current challenge.
            p.i += 1;
            p.skip_spaces();
            let value = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token().unwrap_or_default()
            };
            if let Some(c) = out.last_mut() {
                c.params.push((word.to_ascii_lowercase(), value));
            }
        } else {
            out.push(Challenge {
                scheme: word.to_ascii_lowercase(),
                params: Vec::new(),
            });
        }
    }
    out
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    /// An RFC 9110 token (plus `/` so that token68 values survive).
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let ok = c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~/:".contains(&c);
            if !ok {
                break;
            }
            self.i += 1;
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A quoted string starting at the current `"`; an unterminated one
    /// runs to the end.
    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.i += 1;
                    }
                }
                _ => out.push(c),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// How the registry wants requests authenticated, as learnt from its
/// challenges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// Not known yet (the registry has not answered 401).
    Unknown,
    /// The registry answered without asking for credentials.
    Open,
    /// HTTP Basic.
    Basic,
    /// Bearer tokens from a token service.
    Bearer {
        /// The token service's URL.
        realm: String,
        /// The `service` parameter to pass along, if any.
        service: Option<String>,
    },
}

impl Scheme {
    /// The scheme of the challenges of a 401 answer (Bearer preferred),
    /// with the scopes a Bearer challenge names.
    pub(crate) fn from_challenges(challenges: &[Challenge]) -> Option<(Scheme, Vec<String>)> {
        if let Some(c) = challenges.iter().find(|c| c.scheme == "bearer")
            && let Some(realm) = c.param("realm")
        {
            let scopes = c
                .param("scope")
                .map(|s| s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned))
                .into_iter()
                .flatten()
                .collect();
            return Some((
                Scheme::Bearer {
                    realm: realm.to_owned(),
                    service: c.param("service").map(str::to_owned),
                },
                scopes,
            ));
        }
        challenges
            .iter()
            .any(|c| c.scheme == "basic")
            .then_some((Scheme::Basic, Vec::new()))
    }
}

/// A user name and password. `Debug` shows the user only.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<hidden>")
            .finish()
    }
}

impl Credentials {
    pub(crate) fn basic_header(&self) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.user, self.password))
        )
    }
}

/// A bearer token and when to stop using it.
struct CachedToken {
    value: String,
    renew_at: Instant,
}

/// Tokens by scope set, for one registry. `Debug` shows the scopes only.
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<String, CachedToken>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scopes: Vec<String> = self
            .tokens
            .lock()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        f.debug_struct("TokenCache")
            .field("scopes", &scopes)
            .finish()
    }
}

/// What a token service answered, reduced to what is used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TokenAnswer {
    /// `token`, or `access_token` when `token` is absent.
    pub(crate) token: String,
    /// `expires_in`, 60 s when absent (the protocol's default).
    pub(crate) expires_in: Duration,
}

/// The protocol's default lifetime of a token.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

/// Parses a token service's JSON answer. The error says what is missing
/// and never quotes the answer (it may hold a token).
pub(crate) fn parse_token_answer(body: &[u8]) -> std::result::Result<TokenAnswer, String> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("the answer is not JSON ({})", e.classify_name()))?;
    let pick = |name: &str| {
        v.get(name)
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
    };
    let token = pick("token")
        .or_else(|| pick("access_token"))
        .ok_or_else(|| "the answer has neither `token` nor `access_token`".to_owned())?;
    let expires_in = match v.get("expires_in") {
        None | Some(serde_json::Value::Null) => DEFAULT_TOKEN_LIFETIME,
        Some(n) => n
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| "`expires_in` is not a whole number of seconds".to_owned())?,
    };
    Ok(TokenAnswer { token, expires_in })
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

/// When a token is renewed: a little before it expires, so that a request
/// sent with it does not arrive after its end.
fn renew_after(expires_in: Duration) -> Duration {
    let margin = (expires_in / 4).min(Duration::from_secs(30));
    expires_in.saturating_sub(margin)
}

impl TokenCache {
    pub(crate) fn new() -> Self {
        TokenCache {
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The token for `scopes`: from the cache while still valid and not
    /// the `rejected` one (a token the registry refused), else from
    /// `fetch`. `fetch` runs with the lock held, so threads needing the
    /// same scopes, or refused the same token, fetch once.
    pub(crate) fn get<E>(
        &self,
        scopes: &[String],
        rejected: Option<&str>,
        fetch: impl FnOnce() -> std::result::Result<TokenAnswer, E>,
    ) -> std::result::Result<String, E> {
        let key = scope_key(scopes);
        let mut tokens = match self.tokens.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(t) = tokens.get(&key)
            && Instant::now() < t.renew_at
            && rejected != Some(t.value.as_str())
        {
            return Ok(t.value.clone());
        }
        let answer = fetch()?;
        tokens.insert(
            key,
            CachedToken {
                value: answer.token.clone(),
                renew_at: Instant::now() + renew_after(answer.expires_in),
            },
        );
        Ok(answer.token)
    }
}

/// The cache key of a scope set: sorted, deduplicated, space-joined.
fn scope_key(scopes: &[String]) -> String {
    let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
    s.sort_unstable();
    s.dedup();
    s.join(" ")
}

/// The token request URL: the realm with `service`, each `scope` and
/// `account` as query parameters.
pub(crate) fn token_url(
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    account: Option<&str>,
) -> String {
    let mut url = realm.to_owned();
    let mut sep = if realm.contains('?') { '&' } else { '?' };
    let mut add = |name: &str, value: &str| {
        url.push(sep);
        url.push_str(name);
        url.push('=');
        url.push_str(&percent_encode(value));
        sep = '&';
    };
    if let Some(s) = service {
        add("service", s);
    }
    let mut sorted: Vec<&String> = scopes.iter().collect();
    sorted.sort();
    sorted.dedup();
    for s in sorted {
        add("scope", s);
    }
    if let Some(a) = account {
        add("account", a);
    }
    url
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The scope of a repository for the given actions, e.g.
/// `repository:mirror/pig/gateway:pull,push`.
pub(crate) fn repository_scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

/// Adds to `scopes` what a challenge asks for, unless a scope there
/// already covers it (same resource, at least the same actions).
pub(crate) fn merge_scopes(scopes: &mut Vec<String>, asked: Vec<String>) {
    fn split(scope: &str) -> Option<(&str, Vec<&str>)> {
        let (resource, actions) = scope.rsplit_once(':')?;
        Some((resource, actions.split(',').collect()))
    }
    for a in asked {
        let covered = match split(&a) {
            Some((resource, actions)) => scopes.iter().any(|s| {
                split(s).is_some_and(|(r, have)| {
                    r == resource && actions.iter().all(|x| have.contains(x))
                })
            }),
            None => scopes.contains(&a),
        };
        if !covered {
            scopes.push(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_with_quoted_commas_and_escapes() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.example.com/token?a=1,b=2",service="registry.example.com",scope="repository:pig/gateway:pull,push repository:base:pull",error="insufficient_scope""#,
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(
            c[0].param("realm"),
            Some("https://auth.example.com/token?a=1,b=2")
        );
        assert_eq!(c[0].param("service"), Some("registry.example.com"));
        assert_eq!(
            c[0].param("scope"),
            Some("repository:pig/gateway:pull,push repository:base:pull")
        );
        let (scheme, scopes) = Scheme::from_challenges(&c).unwrap();
        assert_eq!(
            scheme,
            Scheme::Bearer {
                realm: "https://auth.example.com/token?a=1,b=2".to_owned(),
                service: Some("registry.example.com".to_owned())
            }
        );
        assert_eq!(
            scopes,
            vec![
                "repository:pig/gateway:pull,push".to_owned(),
                "repository:base:pull".to_owned()
            ]
        );

        let c =
            parse_challenges(r#"Basic realm="a \"b\", c", Bearer realm=https://t/x , service=s"#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].param("realm"), Some(r#"a "b", c"#));
        assert_eq!(c[1].param("realm"), Some("https://t/x"));
        assert_eq!(c[1].param("service"), Some("s"));
        assert!(matches!(
            Scheme::from_challenges(&c),
            Some((Scheme::Bearer { .. }, _))
        ));
        assert_eq!(
            Scheme::from_challenges(&parse_challenges(r#"basic realm="Registry Realm""#)),
            Some((Scheme::Basic, Vec::new()))
        );
        // Bearer without a realm cannot be used.
        assert_eq!(
            Scheme::from_challenges(&parse_challenges("Bearer service=x")),
            None
        );
    }

    #[test]
    fn malformed_challenges_do_not_panic() {
        for h in [
            "",
            ",,,",
            "=",
            "Bearer realm=\"unterminated",
            "Bearer realm=\"x\\",
            "\"quoted\" Bearer",
            "Bearer ==== realm",
            "Negotiate abc==",
            "ü Bearer realm=ä",
        ] {
            let _ = Scheme::from_challenges(&parse_challenges(h));
        }
        assert_eq!(
            parse_challenges("Bearer realm=\"unterminated")[0].param("realm"),
            Some("unterminated")
        );
    }

    fn quote(v: &str) -> String {
        let mut out = String::from("\"");
        for c in v.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
        out
    }

    proptest::proptest! {
        #[test]
        fn quoted_parameters_come_back_as_they_were(
            realm in "[ -~]{0,40}",
            service in "[ -~]{0,20}",
            scopes in proptest::collection::vec("[a-z0-9/:,._-]{1,30}", 0..4),
        ) {
            let scope = scopes.join(" ");
            let header = format!(
                "Bearer realm={},service={}, scope={}",
                quote(&realm),
                quote(&service),
                quote(&scope)
            );
            let c = parse_challenges(&header);
            proptest::prop_assert_eq!(c.len(), 1);
            proptest::prop_assert_eq!(c[0].param("realm"), Some(realm.as_str()));
            proptest::prop_assert_eq!(c[0].param("service"), Some(service.as_str()));
            proptest::prop_assert_eq!(c[0].param("scope"), Some(scope.as_str()));
        }

        #[test]
        fn any_header_parses_without_panicking(header in "\\PC{0,80}") {
            let _ = Scheme::from_challenges(&parse_challenges(&header));
        }
    }

    #[test]
    fn token_answers() {
        assert_eq!(
            parse_token_answer(br#"{"token":"t1","access_token":"t2","expires_in":300}"#),
            Ok(TokenAnswer {
                token: "t1".to_owned(),
                expires_in: Duration::from_secs(300)
            })
        );
        assert_eq!(
            parse_token_answer(br#"{"access_token":"t2","issued_at":"2026-01-01T00:00:00Z"}"#),
            Ok(TokenAnswer {
                token: "t2".to_owned(),
                expires_in: DEFAULT_TOKEN_LIFETIME
            })
        );
        let err = parse_token_answer(br#"{"token":"","expires_in":1}"#).unwrap_err();
        assert!(err.contains("neither"), "{err}");
        let err = parse_token_answer(br#"{"token":"secret-t","expires_in":"x"}"#).unwrap_err();
        assert!(!err.contains("secret-t"), "{err}");
        assert!(parse_token_answer(b"<html>").is_err());
        assert_eq!(
            renew_after(Duration::from_secs(300)),
            Duration::from_secs(270)
        );
        assert_eq!(
            renew_after(Duration::from_secs(60)),
            Duration::from_secs(45)
        );
    }

    #[test]
    fn token_urls_and_cache() {
        let scopes = vec![
            "repository:m/pig:pull,push".to_owned(),
            "repository:m/base:pull".to_owned(),
        ];
        assert_eq!(
            token_url("https://a/token", Some("reg istry"), &scopes, Some("u")),
            "https://a/token?service=reg%20istry&scope=repository%3Am%2Fbase%3Apull&scope=repository%3Am%2Fpig%3Apull%2Cpush&account=u"
        );
        assert_eq!(
            token_url("https://a/t?x=1", None, &[], None),
            "https://a/t?x=1"
        );

        let mut merged = vec!["repository:m/pig:pull,push".to_owned()];
        merge_scopes(
            &mut merged,
            vec![
                "repository:m/pig:push,pull".to_owned(),
                "repository:m/pig:pull".to_owned(),
                "repository:m/base:pull".to_owned(),
                "registry:catalog:*".to_owned(),
            ],
        );
        assert_eq!(
            merged,
            vec![
                "repository:m/pig:pull,push".to_owned(),
                "repository:m/base:pull".to_owned(),
                "registry:catalog:*".to_owned(),
            ]
        );

        let cache = TokenCache::new();
        let mut fetched = 0;
        for rejected in [None, None, Some("tok1"), Some("tok1")] {
            let t = cache
                .get(&scopes, rejected, || {
                    fetched += 1;
                    Ok::<_, ()>(TokenAnswer {
                        token: format!("tok{fetched}"),
                        expires_in: Duration::from_secs(300),
                    })
                })
                .unwrap();
            assert_eq!(t, format!("tok{fetched}"));
        }
        assert_eq!(fetched, 2);
        // Same scopes in another order share the entry.
        let reversed: Vec<String> = scopes.iter().rev().cloned().collect();
        assert_eq!(
            cache.get(&reversed, None, || Err::<TokenAnswer, _>(())),
            Ok("tok2".to_owned())
        );
        // An expired token is fetched again.
        let _ = cache.get(&["x".to_owned()], None, || {
            Ok::<_, ()>(TokenAnswer {
                token: "short".to_owned(),
                expires_in: Duration::ZERO,
            })
        });
        assert_eq!(
            cache.get(&["x".to_owned()], None, || Ok::<_, ()>(TokenAnswer {
                token: "again".to_owned(),
                expires_in: Duration::from_secs(60),
            })),
            Ok("again".to_owned())
        );
        assert!(!format!("{cache:?}").contains("tok2"));
        let creds = Credentials {
            user: "u".to_owned(),
            password: "hunter2".to_owned(),
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
    }
}
