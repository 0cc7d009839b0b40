//! Credentials from a containers auth file (`auth.json`, as `podman login`
//! and `skopeo login` write it) or a Docker `config.json`: the entry of
//! `auths` whose key matches the registry, with `auth` holding base64
//! `user:password` (or `username` and `password` fields).

use std::path::PathBuf;

use base64::Engine as _;

use super::auth::Credentials;

/// Why an auth file gave no credentials. Messages never hold secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AuthFileProblem {
    /// The file is not an auth file.
    Malformed(String),
    /// No entry of `auths` matches the registry.
    NoEntry {
        /// The keys the file has, for the message.
        keys: Vec<String>,
        /// A credential helper the file names for the registry.
        helper: Option<String>,
    },
    /// The entry exists but cannot be used.
    Unusable {
        /// The entry's key.
        key: String,
        /// Why.
        message: String,
    },
}

impl std::fmt::Display for AuthFileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthFileProblem::Malformed(m) => write!(
                f,
                "not a containers/docker auth file ({m}); give the file `podman login`, `skopeo login` or `docker login` wrote"
            ),
            AuthFileProblem::NoEntry { keys, helper } => {
                write!(f, "no entry of `auths` matches the registry")?;
                if let Some(h) = helper {
                    write!(
                        f,
                        " (the file sends it to the credential helper `docker-credential-{h}`, which is not supported)"
                    )?;
                }
                write!(
                    f,
                    "; entries: [{}]; log in with `skopeo login --authfile <file> <registry>` or add the entry",
                    keys.join(", ")
                )
            }
            AuthFileProblem::Unusable { key, message } => write!(
                f,
                "the entry `{key}` {message}; log in again with `skopeo login --authfile <file> <registry>`"
            ),
        }
    }
}

/// The registry part of an `auths` key: without scheme, without a
/// trailing `/` and the `/v1/`/`/v2/` of old Docker keys.
fn normalize_key(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.trim_end_matches('/');
    k.strip_suffix("/v1")
        .or_else(|| k.strip_suffix("/v2"))
        .unwrap_or(k)
}

/// The credentials of `registry` (`host[:port][/path]`) in an auth file's
/// JSON: the most specific `auths` key that is the registry or a parent
/// path of it (`host` matches `host/mirror`, `host/mirror` beats `host`).
pub(crate) fn credentials_from_auth_json(
    json: &[u8],
    registry: &str,
) -> Result<Credentials, AuthFileProblem> {
    let doc: serde_json::Value = serde_json::from_slice(json)
        .map_err(|e| AuthFileProblem::Malformed(format!("invalid JSON at line {}", e.line())))?;
    let Some(root) = doc.as_object() else {
        return Err(AuthFileProblem::Malformed(
            "the document is not an object".to_owned(),
        ));
    };
    let registry = registry.trim_end_matches('/');
    let host = registry.split_once('/').map_or(registry, |(h, _)| h);
    let auths = match root.get("auths") {
        None => None,
        Some(a) => Some(
            a.as_object()
                .ok_or_else(|| AuthFileProblem::Malformed("`auths` is not an object".to_owned()))?,
        ),
    };
    let matches = |key: &str| {
        let k = normalize_key(key);
        registry == k
            || registry
                .strip_prefix(k)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    let best = auths.and_then(|a| {
        a.iter()
            .filter(|(k, _)| matches(k))
            .max_by_key(|(k, _)| normalize_key(k).len())
    });
    let Some((key, entry)) = best else {
        let helper = root
            .get("credHelpers")
            .and_then(|h| h.get(host))
            .or_else(|| root.get("credsStore"))
            .and_then(|h| h.as_str())
            .map(str::to_owned);
        return Err(AuthFileProblem::NoEntry {
            keys: auths
                .map(|a| a.keys().cloned().collect())
                .unwrap_or_default(),
            helper,
        });
    };
    let unusable = |message: &str| AuthFileProblem::Unusable {
        key: key.clone(),
        message: message.to_owned(),
    };
    let field = |name: &str| {
        entry
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
    };
    if let Some(auth) = field("auth") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| unusable("has an `auth` value that is not base64"))?;
        let text = String::from_utf8(decoded)
            .map_err(|_| unusable("has an `auth` value that is not UTF-8 `user:password`"))?;
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| unusable("has an `auth` value without `:` between user and password"))?;
        if user.is_empty() {
            return Err(unusable("has an empty user name"));
        }
        return Ok(Credentials {
            user: user.to_owned(),
            password: password.to_owned(),
        });
    }
    if let (Some(user), Some(password)) = (field("username"), field("password")) {
        return Ok(Credentials {
            user: user.to_owned(),
            password: password.to_owned(),
        });
    }
    if field("identitytoken").is_some() {
        return Err(unusable(
            "holds an identity token (OAuth refresh token), which is not supported; log in with a user and password",
        ));
    }
    Err(unusable("has no `auth` value"))
}

/// Where the containers tools and Docker keep auth files, most specific
/// first, as read from `env` (`REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR`,
/// `XDG_CONFIG_HOME`, `HOME`, `DOCKER_CONFIG`).
pub(crate) fn default_auth_files(env: impl Fn(&str) -> Option<PathBuf>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(f) = env("REGISTRY_AUTH_FILE") {
        out.push(f);
    }
    if let Some(d) = env("XDG_RUNTIME_DIR") {
        out.push(d.join("containers/auth.json"));
    }
    let home = env("HOME");
    match (env("XDG_CONFIG_HOME"), &home) {
        (Some(c), _) => out.push(c.join("containers/auth.json")),
        (None, Some(h)) => out.push(h.join(".config/containers/auth.json")),
        (None, None) => {}
    }
    match (env("DOCKER_CONFIG"), &home) {
        (Some(d), _) => out.push(d.join("config.json")),
        (None, Some(h)) => out.push(h.join(".docker/config.json")),
        (None, None) => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn picks_the_most_specific_matching_entry() {
        let json = format!(
            r#"{{"auths":{{
                "https://index.docker.io/v1/":{{"auth":"{}"}},
                "reg.example.com:5000":{{"auth":"{}"}},
                "reg.example.com:5000/mirror":{{"auth":"{}"}},
                "reg.example.com:5000/mirr":{{"auth":"{}"}},
                "other.example.com":{{"username":"o","password":"p:w"}}
            }}}}"#,
            b64("hub:x"),
            b64("host:pw"),
            b64("mirror:pass:with:colons"),
            b64("wrong:x")
        );
        let c =
            credentials_from_auth_json(json.as_bytes(), "reg.example.com:5000/mirror/").unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("mirror", "pass:with:colons")
        );
        let c = credentials_from_auth_json(json.as_bytes(), "reg.example.com:5000/other").unwrap();
        assert_eq!(c.user, "host");
        let c = credentials_from_auth_json(json.as_bytes(), "reg.example.com:5000").unwrap();
        assert_eq!(c.user, "host");
        let c = credentials_from_auth_json(json.as_bytes(), "index.docker.io").unwrap();
        assert_eq!(c.user, "hub");
        let c = credentials_from_auth_json(json.as_bytes(), "other.example.com/x").unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("o", "p:w"));
        let err = credentials_from_auth_json(json.as_bytes(), "reg.example.com").unwrap_err();
        assert!(matches!(err, AuthFileProblem::NoEntry { .. }), "{err}");
        assert!(err.to_string().contains("reg.example.com:5000"), "{err}");
    }

    #[test]
    fn unusable_entries_are_explained_without_secrets() {
        let cases = [
            (r#"{"auths":{"h":{"auth":"%%%"}}}"#, "base64"),
            (
                &format!(
                    r#"{{"auths":{{"h":{{"auth":"{}"}}}}}}"#,
                    b64("nocolon-secret")
                ),
                "without `:`",
            ),
            (
                r#"{"auths":{"h":{"identitytoken":"secret-tok"}}}"#,
                "identity token",
            ),
            (r#"{"auths":{"h":{}}}"#, "no `auth`"),
            (
                r#"{"auths":{},"credHelpers":{"h":"ecr-login"}}"#,
                "docker-credential-ecr-login",
            ),
            (r#"{"credsStore":"desktop"}"#, "docker-credential-desktop"),
            ("[1]", "not an object"),
            ("{", "invalid JSON"),
            (r#"{"auths":[]}"#, "`auths`"),
        ];
        for (json, want) in cases {
            let err = credentials_from_auth_json(json.as_bytes(), "h/mirror").unwrap_err();
            let text = err.to_string();
            assert!(text.contains(want), "{json}: {text}");
            assert!(!text.contains("secret"), "{text}");
        }
    }

    #[test]
    fn default_locations_follow_the_environment() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| PathBuf::from(v))
            }
        };
        assert_eq!(
            default_auth_files(env(&[
                ("HOME", "/home/u"),
                ("XDG_RUNTIME_DIR", "/run/user/1")
            ])),
            vec![
                PathBuf::from("/run/user/1/containers/auth.json"),
                PathBuf::from("/home/u/.config/containers/auth.json"),
                PathBuf::from("/home/u/.docker/config.json"),
            ]
        );
        assert_eq!(
            default_auth_files(env(&[
                ("REGISTRY_AUTH_FILE", "/etc/auth.json"),
                ("DOCKER_CONFIG", "/d")
            ])),
            vec![
                PathBuf::from("/etc/auth.json"),
                PathBuf::from("/d/config.json")
            ]
        );
        assert!(default_auth_files(env(&[])).is_empty());
    }
}
