//! Randomness for generated secrets, from the operating system. The core
//! (`template-core`) only consumes the bytes it is given; this crate is
//! the edge where they are read.

use std::hash::{BuildHasher, Hasher};

use template_core::RandomSource;

use crate::error::{Error, Result};

/// The operating system's random generator (`getrandom`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom {
    _private: (),
}

impl OsRandom {
    /// A source reading the operating system's generator; fails if that
    /// generator cannot be read (no secrets are made then).
    pub fn new() -> Result<OsRandom> {
        let mut probe = [0u8; 16];
        getrandom::fill(&mut probe).map_err(|e| Error::Precondition {
            message: format!(
                "the operating system's random generator cannot be read ({e}); generated secrets need it"
            ),
        })?;
        Ok(OsRandom { _private: () })
    }
}

impl RandomSource for OsRandom {
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if getrandom::fill(dest).is_ok() {
            return;
        }
        // The generator answered in `new` and failed now, which Linux does
        // not do once it is seeded. Fall back to SipHash keyed by the
        // standard library from the same generator, rather than panic.
        let state = std::collections::hash_map::RandomState::new();
        for (i, chunk) in dest.chunks_mut(8).enumerate() {
            let mut h = state.build_hasher();
            h.write_usize(i);
            let bytes = h.finish().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_draws_differ() {
        let mut random = OsRandom::new().unwrap();
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        random.fill_bytes(&mut a);
        random.fill_bytes(&mut b);
        assert_ne!(a, b);
    }
}
