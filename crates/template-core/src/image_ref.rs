//! Image references (`registry/repository:tag@algorithm:hex`) checked by
//! hand, without a regex engine and without allocating.
//!
//! The grammar and the extra checks are those of
//! `oci_spec::distribution::Reference` (docker's reference grammar): the
//! two accept exactly the same strings and fail for the same reason, which
//! a property test holds them to. Validation runs this check for every
//! component of every plan, so it must cost little more than reading the
//! string once.

use std::fmt;

/// Longest repository path (after docker's normalization, which prefixes
/// single-segment Docker Hub names with `library/`).
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Longest tag, in characters.
const TAG_MAX_CHARS: usize = 128;

/// The parts of a well-formed image reference, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Everything before the tag and digest: `[registry/]repository`, as
    /// written (not normalized).
    pub name: &'a str,
    /// The tag, if one is written.
    pub tag: Option<&'a str>,
    /// The digest (`algorithm:hex`), if one is written.
    pub digest: Option<&'a str>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageRefError {
    /// The string is empty.
    Empty,
    /// The string does not follow `[registry/]repository[:tag][@digest]`.
    InvalidFormat,
    /// The repository path is longer than [`NAME_TOTAL_LENGTH_MAX`].
    NameTooLong,
    /// The digest's hex part has the wrong length for its algorithm.
    DigestInvalidLength,
    /// The digest's algorithm is not sha256, sha384 or sha512.
    DigestUnsupported,
}

impl fmt::Display for ImageRefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageRefError::Empty => "repository name must have at least one component",
            ImageRefError::InvalidFormat => "invalid reference format",
            ImageRefError::NameTooLong => "repository name must not be more than 255 characters",
            ImageRefError::DigestInvalidLength => "invalid checksum digest length",
            ImageRefError::DigestUnsupported => "unsupported digest algorithm",
        })
    }
}

impl std::error::Error for ImageRefError {}

/// Parses `reference` as an image reference.
///
/// ```
/// use template_core::image_ref::{parse_image_ref, ImageRefError};
/// let r = parse_image_ref("registry.example.com:5000/shop/web:1.0").unwrap();
/// assert_eq!(r.name, "registry.example.com:5000/shop/web");
/// assert_eq!(r.tag, Some("1.0"));
/// assert_eq!(parse_image_ref("Shop/Web"), Err(ImageRefError::InvalidFormat));
/// ```
pub fn parse_image_ref(reference: &str) -> Result<ImageRef<'_>, ImageRefError> {
    if reference.is_empty() {
        return Err(ImageRefError::Empty);
    }
    // `@` appears nowhere but before the digest.
    let (rest, digest) = match reference.split_once('@') {
        Some((rest, digest)) => {
            if !is_digest(digest) {
                return Err(ImageRefError::InvalidFormat);
            }
            (rest, Some(digest))
        }
        None => (reference, None),
    };
    // A `:` followed by no `/` can only start the tag: the one in a
    // registry's port is always followed by the repository path.
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i + 1..].contains('/') => {
            let tag = &rest[i + 1..];
            if !is_tag(tag) {
                return Err(ImageRefError::InvalidFormat);
            }
            (&rest[..i], Some(tag))
        }
        _ => (rest, None),
    };
    if !is_name(name) {
        return Err(ImageRefError::InvalidFormat);
    }
    if normalized_repository_len(name) > NAME_TOTAL_LENGTH_MAX {
        return Err(ImageRefError::NameTooLong);
    }
    if let Some(d) = digest {
        check_digest_algorithm(d)?;
    }
    Ok(ImageRef { name, tag, digest })
}

/// `[\w][\w.-]{0,127}` with Unicode word characters.
fn is_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    match chars.next() {
        Some(c) if is_word(c) => {}
        _ => return false,
    }
    let mut count = 1;
    for c in chars {
        count += 1;
        if count > TAG_MAX_CHARS || !(is_word(c) || c == '.' || c == '-') {
            return false;
        }
    }
    true
}

fn is_word(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '_'
    } else {
        regex_syntax::try_is_word_character(c).unwrap_or(false)
    }
}

/// `algorithm:hex`: `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*`,
/// `:`, then at least 32 hex digits.
fn is_digest(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    algorithm.split(['-', '_', '+', '.']).all(|part| {
        let mut bytes = part.bytes();
        bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric())
    })
}

fn check_digest_algorithm(digest: &str) -> Result<(), ImageRefError> {
    let (algorithm, hex) = digest.split_once(':').unwrap_or((digest, ""));
    let want = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(ImageRefError::DigestUnsupported),
    };
    if hex.len() == want {
        Ok(())
    } else {
        Err(ImageRefError::DigestInvalidLength)
    }
}

/// `[domain/]component(/component)*`. The first segment may be read as a
/// domain or as a component; either reading makes the name valid.
fn is_name(name: &str) -> bool {
    let Some((first, rest)) = name.split_once('/') else {
        return is_component(name);
    };
    if !rest.split('/').all(is_component) {
        return false;
    }
    is_component(first) || is_domain(first)
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn is_component(s: &str) -> bool {
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !is_lower_alnum(first) || !is_lower_alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_lower_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_lower_alnum(bytes[i]) {
            i += 1;
        }
        let separator_ok = match &bytes[start..i] {
            b"." | b"_" | b"__" => true,
            run => run.iter().all(|&b| b == b'-'),
        };
        if !separator_ok {
            return false;
        }
    }
    true
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `label(.label)*(:[0-9]+)?`, labels of ASCII letters, digits and inner `-`.
fn is_domain(s: &str) -> bool {
    let host = match s.split_once(':') {
        Some((host, port)) => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            host
        }
        None => s,
    };
    host.split('.').all(|label| {
        let bytes = label.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(&a), Some(&z)) => {
                a.is_ascii_alphanumeric()
                    && z.is_ascii_alphanumeric()
                    && bytes
                        .iter()
                        .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
            }
            _ => false,
        }
    })
}

/// Length of the repository path docker's normalization derives from a
/// (valid) name: the registry is the first segment when it looks like a
/// host (has `.` or `:`, or is `localhost`), otherwise Docker Hub, whose
/// single-segment names get a `library/` prefix.
fn normalized_repository_len(name: &str) -> usize {
    let (domain, remainder) = match name.split_once('/') {
        Some((left, right)) if left.contains(['.', ':']) || left == "localhost" => (left, right),
        _ => ("docker.io", name),
    };
    let docker_hub = domain == "docker.io" || domain == "index.docker.io";
    if docker_hub && !remainder.contains('/') {
        "library/".len() + remainder.len()
    } else {
        remainder.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn accepts_the_usual_forms() {
        for ok in [
            "busybox",
            "test.com:tag",
            "test:5000/repo",
            "localhost/a",
            "a__b/c--d/e.f_g",
            "xn--n3h.com/myimage:xn--n3h.com",
            "lowercase:Uppercase",
            "a:ünicode",
        ] {
            assert!(parse_image_ref(ok).is_ok(), "{ok}");
        }
        let with_digest = format!("registry.example.com/a/b:1.0@sha256:{HEX64}");
        let r = parse_image_ref(&with_digest).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.name, "registry.example.com/a/b");
        assert_eq!(r.tag, Some("1.0"));
        assert_eq!(r.digest.map(|d| d.len()), Some(71));
    }

    #[test]
    fn rejects_with_the_reason() {
        use ImageRefError::*;
        let long = "a".repeat(250);
        for (bad, why) in [
            ("", Empty),
            ("upper/Case", InvalidFormat),
            ("a___b", InvalidFormat),
            ("a-.b", InvalidFormat),
            ("a:", InvalidFormat),
            (":tag", InvalidFormat),
            ("host:port/a", InvalidFormat),
            ("-host.com/a", InvalidFormat),
            ("a@sha256:abc", InvalidFormat),
            (long.as_str(), NameTooLong),
        ] {
            assert_eq!(parse_image_ref(bad), Err(why), "{bad}");
        }
        assert_eq!(
            parse_image_ref(&format!("a@md5:{HEX64}")),
            Err(DigestUnsupported)
        );
        assert_eq!(
            parse_image_ref(&format!("a@sha512:{HEX64}")),
            Err(DigestInvalidLength)
        );
    }
}
