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

/// A key pair made by [`generate_key_pair`].
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
