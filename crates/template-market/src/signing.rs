//! Package signatures with minisign.
//!
//! Why minisign: a signature is one small text file over the package
//! manifest bytes, made with an Ed25519 key that needs no certificate
//! authority, transparency log or network — what an air gap allows. The
//! pure-Rust `minisign` crate creates keys, signs and verifies, and the
//! standard `minisign` tool (packaged by Debian and others) verifies the
//! same signature: extract the package manifest blob and its signature blob
//! and run `minisign -V -p key.pub -m manifest.json -x manifest.json.minisig`.
//! cosign was the other candidate; its offline key mode works too, but its
//! tooling expects a registry and a transparency log for the rest of its
//! features, and no Debian package of it exists here.

use std::io::Cursor;

use template_core::package::PackageSignature;
use template_core::package::format::MINISIGN_SIGNATURE_MEDIA_TYPE;

use crate::error::{MarketError, Result};

/// A public key that verifies package signatures.
#[derive(Debug, Clone)]
pub struct PublicKey(minisign::PublicKey);

/// A secret key that signs packages. Its `Debug` output hides the key.
#[derive(Clone)]
pub struct SecretKey(minisign::SecretKey);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// A key pair made by [`generate_key_pair`]. Its plain-data form is
/// [`KeyPairText`] (`{key_id, public_key, public_key_file, secret_key}`).
#[derive(Debug, Clone)]
pub struct KeyPair {
    /// Give this to everyone who imports your packages.
    pub public: PublicKey,
    /// Keep this secret; it signs packages.
    pub secret: SecretKey,
}

/// Creates a new Ed25519 key pair (from the operating system's random
/// source). The secret key is not password-protected: store it like any
/// other credential.
pub fn generate_key_pair() -> Result<KeyPair> {
    let pair = minisign::KeyPair::generate_unencrypted_keypair().map_err(|e| MarketError::Key {
        message: e.to_string(),
    })?;
    Ok(KeyPair {
        public: PublicKey(pair.pk),
        secret: SecretKey(pair.sk),
    })
}

impl KeyPair {
    /// The pair as text to store and hand out.
    pub fn to_text(&self) -> Result<KeyPairText> {
        Ok(KeyPairText {
            key_id: self.public.key_id(),
            public_key: self.public.to_base64(),
            public_key_file: self.public.to_file_text()?,
            secret_key: self.secret.to_file_text()?,
        })
    }
}

/// A key pair as text: what `generate_key_pair` gives in every language.
/// Serializes as `{key_id, public_key, public_key_file, secret_key}`.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyPairText {
    /// The key's id, as `minisign` prints it (16 hex digits).
    pub key_id: String,
    /// The public key as one base64 line (`minisign -P <this>`); give it
    /// to everyone who imports your packages.
    pub public_key: String,
    /// The public key in minisign's `.pub` file format.
    pub public_key_file: String,
    /// The secret key in minisign's (unencrypted) key file format; keep it
    /// secret, it signs packages.
    pub secret_key: String,
}

impl std::fmt::Debug for KeyPairText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPairText")
            .field("key_id", &self.key_id)
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

fn key_err(e: minisign::PError) -> MarketError {
    MarketError::Key {
        message: e.to_string(),
    }
}

fn key_id(keynum: &[u8]) -> String {
    let mut bytes = [0u8; 8];
    for (dst, src) in bytes.iter_mut().zip(keynum) {
        *dst = *src;
    }
    format!("{:016X}", u64::from_le_bytes(bytes))
}

impl PublicKey {
    /// The key's id, as `minisign` prints it.
    pub fn key_id(&self) -> String {
        key_id(self.0.keynum())
    }

    /// The key as one base64 line (`minisign -P <this>`).
    pub fn to_base64(&self) -> String {
        self.0.to_base64()
    }

    /// Parses a key from its base64 line.
    pub fn from_base64(text: &str) -> Result<PublicKey> {
        minisign::PublicKey::from_base64(text.trim())
            .map(PublicKey)
            .map_err(key_err)
    }

    /// The key in minisign's `.pub` file format (`minisign -p <file>`).
    pub fn to_file_text(&self) -> Result<String> {
        Ok(self.0.to_box().map_err(key_err)?.into_string())
    }

    /// Parses a key from minisign's `.pub` file format.
    pub fn from_file_text(text: &str) -> Result<PublicKey> {
        let boxed = minisign::PublicKeyBox::from_string(text).map_err(key_err)?;
        boxed.into_public_key().map(PublicKey).map_err(key_err)
    }
}

impl std::str::FromStr for PublicKey {
    type Err = MarketError;

    /// A key from minisign's `.pub` file text or its base64 line.
    fn from_str(text: &str) -> Result<PublicKey> {
        if text.trim_start().starts_with("untrusted comment:") {
            PublicKey::from_file_text(text)
        } else {
            PublicKey::from_base64(text)
        }
    }
}

/// Serializes as its base64 line.
impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

/// Reads minisign's `.pub` file text or the base64 line.
impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.to_base64() == other.to_base64()
    }
}

impl Eq for PublicKey {}

impl std::str::FromStr for SecretKey {
    type Err = MarketError;

    /// A key from minisign's unencrypted secret key file text.
    fn from_str(text: &str) -> Result<SecretKey> {
        SecretKey::from_file_text(text)
    }
}

/// Serializes as the (unencrypted) secret key file text: treat the output
/// like the key itself.
impl serde::Serialize for SecretKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let text = self.to_file_text().map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }
}

/// Reads minisign's unencrypted secret key file text.
impl<'de> serde::Deserialize<'de> for SecretKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl SecretKey {
    /// The key in minisign's (unencrypted) secret key file format.
    pub fn to_file_text(&self) -> Result<String> {
        Ok(self.0.to_box(None).map_err(key_err)?.into_string())
    }

    /// Parses an unencrypted secret key file.
    pub fn from_file_text(text: &str) -> Result<SecretKey> {
        let boxed = minisign::SecretKeyBox::from_string(text).map_err(key_err)?;
        boxed
            .into_unencrypted_secret_key()
            .map(SecretKey)
            .map_err(key_err)
    }
}

/// Signs the package manifest bytes.
pub(crate) fn sign(
    manifest_bytes: &[u8],
    key: &SecretKey,
    trusted_comment: &str,
) -> Result<PackageSignature> {
    let sig = minisign::sign(
        None,
        &key.0,
        Cursor::new(manifest_bytes),
        Some(trusted_comment),
        None,
    )
    .map_err(key_err)?;
    Ok(PackageSignature {
        media_type: MINISIGN_SIGNATURE_MEDIA_TYPE.to_owned(),
        bytes: sig.into_string().into_bytes(),
    })
}

/// The id of the key that made a signature, if it parses.
pub(crate) fn signer_of(signature: &PackageSignature) -> Option<String> {
    let text = std::str::from_utf8(&signature.bytes).ok()?;
    let sig = minisign::SignatureBox::from_string(text).ok()?;
    Some(key_id(sig.keynum()))
}

/// Verifies a signature over the manifest bytes against trusted keys;
/// returns the id of the key that signed.
pub(crate) fn verify(
    manifest_digest: &str,
    manifest_bytes: &[u8],
    signature: &PackageSignature,
    trusted: &[PublicKey],
) -> Result<String> {
    let bad = |message: String| MarketError::BadSignature {
        manifest_digest: manifest_digest.to_owned(),
        message,
    };
    if signature.media_type != MINISIGN_SIGNATURE_MEDIA_TYPE {
        return Err(bad(format!(
            "unknown signature type {}",
            signature.media_type
        )));
    }
    let text = std::str::from_utf8(&signature.bytes).map_err(|e| bad(e.to_string()))?;
    let sig = minisign::SignatureBox::from_string(text).map_err(|e| bad(e.to_string()))?;
    let signer = key_id(sig.keynum());
    let key = trusted
        .iter()
        .find(|k| k.0.keynum() == sig.keynum())
        .ok_or_else(|| MarketError::UntrustedKey {
            manifest_digest: manifest_digest.to_owned(),
            key_id: signer.clone(),
        })?;
    minisign::verify(
        &key.0,
        &sig,
        Cursor::new(manifest_bytes),
        true,
        false,
        false,
    )
    .map_err(|e| bad(e.to_string()))?;
    Ok(signer)
}
