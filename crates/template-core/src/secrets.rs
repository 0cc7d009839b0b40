//! Generation of install-time secrets from random bytes the caller
//! supplies, so the core stays deterministic and testable.
//!
//! Bytes map to the alphabet by rejection sampling: a byte is used only if
//! it falls below the largest multiple of the alphabet size that fits in a
//! byte, so every character is exactly equally likely (plain `byte % n`
//! would favour the first `256 % n` characters).

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::model::SecretRule;
use crate::plan::Plan;

/// Where random bytes come from; the caller implements it over the
/// operating system's generator (tests use a fixed sequence).
pub trait RandomSource {
    /// Fills `dest` with random bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]);
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self(dest)
    }
}

/// A generated secret value. Its `Debug` output is masked and it is not
/// serializable, so it cannot leak into plans, records or logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// The value, for writing it into the environment.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue({})", crate::model::MASK)
    }
}

/// Generates one secret following `rule`. `reference` names it in errors.
pub fn generate_secret(
    reference: &str,
    rule: &SecretRule,
    random: &mut dyn RandomSource,
) -> Result<SecretValue> {
    let alphabet: Vec<char> = rule.alphabet.characters().chars().collect();
    let n = alphabet.len();
    let length = usize::try_from(rule.length).unwrap_or(usize::MAX).min(4096);
    if n == 0 || n > 256 {
        return Err(Error::RandomSourceExhausted {
            reference: reference.to_owned(),
            attempts: 0,
        });
    }
    // Largest multiple of n not above 256: bytes at or above it are redrawn.
    let limit = 256 - (256 % n);
    let mut out = String::with_capacity(length);
    let mut drawn = 0usize;
    // A fair source rejects under half the bytes; 64x the length is far
    // beyond any fair run and stops a broken source instead of spinning.
    let budget = length.saturating_mul(64).max(1024);
    let mut buf = vec![0u8; length.max(16)];
    let mut count = 0usize;
    while count < length {
        if drawn >= budget {
            return Err(Error::RandomSourceExhausted {
                reference: reference.to_owned(),
                attempts: drawn,
            });
        }
        random.fill_bytes(&mut buf);
        drawn += buf.len();
        for &b in &buf {
            let b = usize::from(b);
            if b < limit
                && let Some(&c) = alphabet.get(b % n)
            {
                out.push(c);
                count += 1;
                if count == length {
                    break;
                }
            }
        }
    }
    Ok(SecretValue(out))
}

/// Values for the secrets a plan introduces, by reference, leaving out
/// those in `existing` (already present in the environment).
pub fn generate_secrets(
    plan: &Plan,
    existing: &std::collections::BTreeSet<String>,
    random: &mut dyn RandomSource,
) -> Result<BTreeMap<String, SecretValue>> {
    let mut out = BTreeMap::new();
    for secret in &plan.new_secrets {
        if existing.contains(&secret.reference) {
            continue;
        }
        out.insert(
            secret.reference.clone(),
            generate_secret(&secret.reference, &secret.rule, random)?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Alphabet;

    fn counter() -> impl FnMut(&mut [u8]) {
        let mut next = 0u8;
        move |buf: &mut [u8]| {
            for b in buf {
                *b = next;
                next = next.wrapping_add(1);
            }
        }
    }

    #[test]
    fn length_and_alphabet_are_respected() {
        for alphabet in [
            Alphabet::Alphanumeric,
            Alphabet::LowerAlphanumeric,
            Alphabet::Hex,
            Alphabet::Symbols,
        ] {
            let rule = SecretRule {
                length: 40,
                alphabet,
                group: None,
            };
            let v = generate_secret("x", &rule, &mut counter()).unwrap();
            assert_eq!(v.expose().chars().count(), 40);
            assert!(
                v.expose()
                    .chars()
                    .all(|c| alphabet.characters().contains(c))
            );
        }
    }

    #[test]
    fn no_modulo_bias_over_a_full_byte_cycle() {
        // 62 characters: bytes 248..=255 must be rejected, so one full cycle
        // of byte values yields each character exactly four times.
        let rule = SecretRule {
            length: 248,
            alphabet: Alphabet::Alphanumeric,
            group: None,
        };
        let v = generate_secret("x", &rule, &mut counter()).unwrap();
        let mut counts = BTreeMap::new();
        for c in v.expose().chars() {
            *counts.entry(c).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 62);
        assert!(counts.values().all(|&n| n == 4));
    }

    #[test]
    fn a_broken_source_is_an_error_not_a_hang() {
        let rule = SecretRule {
            length: 20,
            alphabet: Alphabet::Alphanumeric,
            group: None,
        };
        let mut always_rejected = |buf: &mut [u8]| buf.fill(255);
        let err = generate_secret("group:db", &rule, &mut always_rejected).unwrap_err();
        assert!(matches!(err, Error::RandomSourceExhausted { .. }));
    }

    #[test]
    fn debug_is_masked() {
        let rule = SecretRule {
            length: 8,
            alphabet: Alphabet::Hex,
            group: None,
        };
        let v = generate_secret("x", &rule, &mut counter()).unwrap();
        assert!(!format!("{v:?}").contains(v.expose()));
    }
}
