//! Maps keyed by the names of one list (env vars, mount paths, list
//! entries being diffed, component keys), deterministic in every run.
//!
//! Short lists, hashed many times per document, get a hash table with
//! FNV-1a, which is fast on short names. Its collisions can be forged, but
//! with at most [`SHORT_LIST`] entries a forged list costs at worst a few
//! thousand comparisons. Longer lists get an ordered map, so a crafted
//! document cannot make validation or diffing quadratic either.
//!
//! No map here is seeded from the operating system's randomness (as the
//! standard `HashMap::new` is): the same input does the same work in
//! every run, as the crate's no-I/O rule asks.

use std::collections::BTreeMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The crate's one hash table: fixed FNV hasher, never `RandomState`.
#[expect(
    clippy::disallowed_types,
    reason = "keyed by the fixed FNV hasher below, not the OS-seeded default; only for short lists"
)]
type FnvTable<'a, V> = std::collections::HashMap<&'a str, V, BuildHasherDefault<Fnv>>;

/// Lists up to this long use the hash table.
pub(crate) const SHORT_LIST: usize = 64;

/// A map from the names of a list of `len` entries, with the layout that
/// suits that length; see the module documentation.
#[derive(Debug)]
pub(crate) enum NameMap<'a, V> {
    /// Up to [`SHORT_LIST`] names: FNV-1a hash table.
    Short(FnvTable<'a, V>),
    /// Longer lists: ordered by name, logarithmic whatever the names.
    Long(BTreeMap<&'a str, V>),
}

impl<'a, V> NameMap<'a, V> {
    /// An empty map for a list of `len` entries.
    pub(crate) fn with_len(len: usize) -> Self {
        if len <= SHORT_LIST {
            NameMap::Short(FnvTable::with_capacity_and_hasher(
                len,
                BuildHasherDefault::default(),
            ))
        } else {
            NameMap::Long(BTreeMap::new())
        }
    }

    /// The value of `name`, if present.
    pub(crate) fn get(&self, name: &str) -> Option<&V> {
        match self {
            NameMap::Short(m) => m.get(name),
            NameMap::Long(m) => m.get(name),
        }
    }

    /// Whether `name` is present.
    pub(crate) fn contains_key(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Inserts `value` under `name`; returns the value it replaces.
    pub(crate) fn insert(&mut self, name: &'a str, value: V) -> Option<V> {
        match self {
            NameMap::Short(m) => m.insert(name, value),
            NameMap::Long(m) => m.insert(name, value),
        }
    }

    /// Inserts `value` under `name` unless the name is present already;
    /// then returns the value found first and leaves it in place.
    pub(crate) fn insert_first(&mut self, name: &'a str, value: V) -> Option<&V> {
        use std::collections::btree_map::Entry as Ordered;
        use std::collections::hash_map::Entry as Hashed;
        match self {
            NameMap::Short(m) => match m.entry(name) {
                Hashed::Occupied(first) => Some(first.into_mut()),
                Hashed::Vacant(slot) => {
                    slot.insert(value);
                    None
                }
            },
            NameMap::Long(m) => match m.entry(name) {
                Ordered::Occupied(first) => Some(first.into_mut()),
                Ordered::Vacant(slot) => {
                    slot.insert(value);
                    None
                }
            },
        }
    }

    /// The value of `name`, inserted as the default first if absent.
    pub(crate) fn get_or_default(&mut self, name: &'a str) -> &mut V
    where
        V: Default,
    {
        match self {
            NameMap::Short(m) => m.entry(name).or_default(),
            NameMap::Long(m) => m.entry(name).or_default(),
        }
    }
}

/// FNV-1a over the bytes of a name.
#[derive(Debug)]
pub(crate) struct Fnv(u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Default for Fnv {
    fn default() -> Self {
        Fnv(FNV_OFFSET)
    }
}

impl Hasher for Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(FNV_PRIME);
        }
    }

    fn finish(&self) -> u64 {
        // FNV's low bits see only the low bits of each byte; mix the high
        // half in, as the table picks buckets by the low bits.
        self.0 ^ (self.0 >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_maps_find_every_name() {
        for len in [0, 3, SHORT_LIST, SHORT_LIST + 1, 1000] {
            let names: Vec<String> = (0..len).map(|i| format!("NAME_{i}")).collect();
            let mut map = NameMap::with_len(len);
            assert_eq!(matches!(map, NameMap::Short(_)), len <= SHORT_LIST);
            for (i, n) in names.iter().enumerate() {
                assert_eq!(map.insert_first(n.as_str(), i), None);
            }
            for (i, n) in names.iter().enumerate() {
                assert_eq!(map.get(n.as_str()), Some(&i));
                assert_eq!(map.insert_first(n.as_str(), usize::MAX), Some(&i));
            }
            assert_eq!(map.get("NAME_x"), None);
            assert!(!map.contains_key("NAME_x"));
        }
    }

    #[test]
    fn counts_repeated_names() {
        for len in [3, 1000] {
            let mut map: NameMap<'_, usize> = NameMap::with_len(len);
            for _ in 0..3 {
                *map.get_or_default("same") += 1;
            }
            assert_eq!(map.get("same"), Some(&3));
        }
    }
}
