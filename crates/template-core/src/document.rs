//! Loading and writing template documents, and their content digest.
//!
//! Documents load from JSON or YAML (chosen by the caller or detected from
//! the first character) and are written back deterministically: field order
//! follows the model, maps are sorted, absent optional fields are left out.
//! The content digest is the sha256 of the RFC 8785 canonical JSON of the
//! document without `release_state` and `created_at`, so the same content
//! published twice, at another time or in another state, has one digest.

use std::io::{Read, Write};

use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::model::TemplateVersion;

/// Input syntax of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// YAML 1.2 (a superset of JSON in practice).
    Yaml,
    /// JSON if the first non-blank character is `{`, YAML otherwise.
    Detect,
}

/// Limits applied while loading untrusted documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Largest accepted document in bytes.
    pub max_bytes: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Parses a document from bytes. Syntax and shape errors carry the line or
/// the document path; semantic rules are checked by [`crate::validate()`].
///
/// ```
/// use template_core::{load, Format, LoadOptions};
/// let doc = br#"{"format": "apptemplate.io/v1",
///   "template": {"id": "demo", "name": "Demo"},
///   "version": "1.0.0", "components": []}"#;
/// let version = load(doc, Format::Detect, LoadOptions::default()).unwrap();
/// assert_eq!(version.template.id, "demo");
/// ```
pub fn load(bytes: &[u8], format: Format, options: LoadOptions) -> Result<TemplateVersion> {
    if bytes.len() > options.max_bytes {
        return Err(Error::DocumentTooLarge {
            size: bytes.len(),
            limit: options.max_bytes,
        });
    }
    match resolve_format(bytes, format) {
        Format::Json => load_json(bytes),
        _ => load_yaml(bytes),
    }
}

/// Reads at most `options.max_bytes` from `reader` and parses the document.
pub fn load_from_reader<R: Read>(
    reader: R,
    format: Format,
    options: LoadOptions,
) -> Result<TemplateVersion> {
    let mut buf = Vec::new();
    let limit = u64::try_from(options.max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut buf)
        .map_err(|e| Error::Syntax {
            format: "input",
            line: 0,
            column: 0,
            message: format!("could not read the document: {e}"),
        })?;
    load(&buf, format, options)
}

fn resolve_format(bytes: &[u8], format: Format) -> Format {
    match format {
        Format::Detect => {
            let first = bytes.iter().copied().find(|b| !b.is_ascii_whitespace());
            if first == Some(b'{') {
                Format::Json
            } else {
                Format::Yaml
            }
        }
        other => other,
    }
}

fn load_json(bytes: &[u8]) -> Result<TemplateVersion> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: TemplateVersion = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Error::Syntax {
                format: "JSON",
                line: inner.line(),
                column: inner.column(),
                message: inner.to_string(),
            }
        } else {
            Error::Shape {
                path,
                message: inner.to_string(),
            }
        }
    })?;
    de.end().map_err(|e| Error::Syntax {
        format: "JSON",
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    Ok(value)
}

fn load_yaml(bytes: &[u8]) -> Result<TemplateVersion> {
    // Two passes: the first finds syntax errors with their location, the
    // second maps the tree onto the model and names the path of a bad field.
    let tree: serde_norway::Value = serde_norway::from_slice(bytes).map_err(|err| {
        let (line, column) = err
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        Error::Syntax {
            format: "YAML",
            line,
            column,
            message: err.to_string(),
        }
    })?;
    serde_path_to_error::deserialize(tree).map_err(|err| Error::Shape {
        path: err.path().to_string(),
        message: err.into_inner().to_string(),
    })
}

/// Writes the document as pretty JSON followed by a newline. The output is
/// the same bytes for the same value.
pub fn write_json<W: Write>(version: &TemplateVersion, mut writer: W) -> Result<()> {
    serde_json::to_writer_pretty(&mut writer, version).map_err(|e| Error::Write {
        message: e.to_string(),
    })?;
    writer.write_all(b"\n").map_err(|e| Error::Write {
        message: e.to_string(),
    })
}

/// The document as pretty JSON text.
pub fn to_json_string(version: &TemplateVersion) -> Result<String> {
    let mut out = Vec::new();
    write_json(version, &mut out)?;
    String::from_utf8(out).map_err(|e| Error::Write {
        message: e.to_string(),
    })
}

/// Writes the document as YAML. The output is the same bytes for the same
/// value.
pub fn write_yaml<W: Write>(version: &TemplateVersion, writer: W) -> Result<()> {
    serde_norway::to_writer(writer, version).map_err(|e| Error::Write {
        message: e.to_string(),
    })
}

/// The document as YAML text.
pub fn to_yaml_string(version: &TemplateVersion) -> Result<String> {
    serde_norway::to_string(version).map_err(|e| Error::Write {
        message: e.to_string(),
    })
}

/// The RFC 8785 canonical JSON of the version's content: the document
/// without `release_state` and `created_at`, keys sorted, no whitespace.
pub fn canonical_json(version: &TemplateVersion) -> Result<Vec<u8>> {
    let mut value = serde_json::to_value(version).map_err(|e| Error::Write {
        message: e.to_string(),
    })?;
    if let Some(map) = value.as_object_mut() {
        map.remove("release_state");
        map.remove("created_at");
    }
    serde_jcs::to_vec(&value).map_err(|e| Error::Write {
        message: e.to_string(),
    })
}

/// The content digest of a version, `sha256:<64 hex>`: equal for equal
/// content whatever the key order, formatting, state or creation time.
pub fn content_digest(version: &TemplateVersion) -> Result<String> {
    Ok(sha256_digest(&canonical_json(version)?))
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}
