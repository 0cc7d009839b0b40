//! Hashing for maps keyed by the names of one list (env vars, mount
//! paths, list entries being diffed): short lists, hashed many times per
//! document, where the keyed SipHash of `HashMap::new` costs more than
//! the lookups themselves.
//!
//! Short lists get FNV-1a, which is fast on short names. Its collisions
//! can be forged, but with at most [`SHORT_LIST`] entries a forged list
//! costs at worst a few thousand comparisons. Longer lists keep the
//! standard keyed hasher, so a crafted document cannot make validation or
//! diffing quadratic.

use std::collections::HashMap;
use std::collections::hash_map::{DefaultHasher, RandomState};
use std::hash::{BuildHasher, Hasher};

/// Lists up to this long use the fast hasher.
const SHORT_LIST: usize = 64;

/// A map from the names of a list of `len` entries, with the hasher that
/// suits that length.
pub(crate) fn name_map<K, V>(len: usize) -> HashMap<K, V, NameHasher> {
    let hasher = if len <= SHORT_LIST {
        NameHasher::Short
    } else {
        NameHasher::Keyed(RandomState::new())
    };
    HashMap::with_capacity_and_hasher(len, hasher)
}

/// How a name map hashes; see [`name_map`].
#[derive(Clone, Debug)]
pub(crate) enum NameHasher {
    /// FNV-1a.
    Short,
    /// The standard keyed SipHash.
    Keyed(RandomState),
}

impl BuildHasher for NameHasher {
    type Hasher = NameHashState;

    fn build_hasher(&self) -> NameHashState {
        match self {
            NameHasher::Short => NameHashState::Short(FNV_OFFSET),
            NameHasher::Keyed(state) => NameHashState::Keyed(state.build_hasher()),
        }
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The state of one hash computed by [`NameHasher`].
#[derive(Debug)]
pub(crate) enum NameHashState {
    Short(u64),
    Keyed(DefaultHasher),
}

impl Hasher for NameHashState {
    fn write(&mut self, bytes: &[u8]) {
        match self {
            NameHashState::Short(h) => {
                for b in bytes {
                    *h = (*h ^ u64::from(*b)).wrapping_mul(FNV_PRIME);
                }
            }
            NameHashState::Keyed(s) => s.write(bytes),
        }
    }

    fn finish(&self) -> u64 {
        match self {
            // FNV's low bits see only the low bits of each byte; mix the
            // high half in, as the table picks buckets by the low bits.
            NameHashState::Short(h) => *h ^ (*h >> 32),
            NameHashState::Keyed(s) => s.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_maps_find_every_name() {
        for len in [0, 3, SHORT_LIST, SHORT_LIST + 1, 1000] {
            let names: Vec<String> = (0..len).map(|i| format!("NAME_{i}")).collect();
            let mut map = name_map(len);
            for (i, n) in names.iter().enumerate() {
                assert_eq!(map.insert(n.as_str(), i), None);
            }
            assert_eq!(map.len(), len);
            for (i, n) in names.iter().enumerate() {
                assert_eq!(map.get(n.as_str()), Some(&i));
            }
            assert_eq!(map.get("NAME_x"), None);
        }
    }
}
