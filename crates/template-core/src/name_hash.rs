//! Maps keyed by the names of one list (env vars, mount paths, list
//! entries being diffed, component keys), deterministic in every run.
//!
//! Short lists, hashed many times per document, get a hash table with a
//! fixed multiply-rotate hash that takes a name eight bytes at a time. Its
//! collisions can be forged, but with at most [`SHORT_LIST`] entries a
//! forged list costs at worst a few thousand comparisons. Longer lists get
//! an ordered map, so a crafted document cannot make validation or
//! diffing quadratic either.
//!
//! No map here is seeded from the operating system's randomness (as the
//! standard `HashMap::new` is): the same input does the same work in
//! every run, as the crate's no-I/O rule asks.

use std::collections::BTreeMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The crate's one hash table: fixed hasher, never `RandomState`.
#[expect(
    clippy::disallowed_types,
    reason = "keyed by the fixed hasher below, not the OS-seeded default; only for short lists"
)]
type ShortTable<'a, V> = std::collections::HashMap<&'a str, V, BuildHasherDefault<NameHasher>>;

/// Lists up to this long use the hash table.
pub(crate) const SHORT_LIST: usize = 64;

/// A map from the names of a list of `len` entries, with the layout that
/// suits that length; see the module documentation.
#[derive(Debug)]
pub(crate) enum NameMap<'a, V> {
    /// Up to [`SHORT_LIST`] names: hash table.
    Short(ShortTable<'a, V>),
    /// Longer lists: ordered by name, logarithmic whatever the names.
    Long(BTreeMap<&'a str, V>),
}

impl<'a, V> NameMap<'a, V> {
    /// An empty map for a list of `len` entries.
    pub(crate) fn with_len(len: usize) -> Self {
        if len <= SHORT_LIST {
            NameMap::Short(ShortTable::with_capacity_and_hasher(
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

/// A multiply-rotate hash over a name, eight bytes per step (the same
/// step as rustc's `FxHasher`), with the length of a last partial word
/// mixed in so names that differ only in trailing zero bytes differ.
#[derive(Debug, Default)]
pub(crate) struct NameHasher(u64);

/// An odd constant with well spread bits (2^64 / the golden ratio).
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

impl NameHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for chunk in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        // A product's high bits depend on every input bit, its low bits
        // only on the low ones; the table picks buckets by the low bits.
        self.0.rotate_left(26)
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

    fn hash(name: &str) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<NameHasher>::default().hash_one(name)
    }

    #[test]
    fn names_of_one_list_spread_over_the_low_bits() {
        // The table picks a bucket by the low bits: names that differ in
        // one digit, in a trailing byte or only in length must not pile up.
        let names: Vec<String> = (0..SHORT_LIST).map(|i| format!("SETTING_{i}")).collect();
        let buckets: std::collections::BTreeSet<u64> = names.iter().map(|n| hash(n) & 63).collect();
        assert!(buckets.len() >= 32, "{} of 64 buckets used", buckets.len());
        assert_ne!(hash("a"), hash("a\0"));
        assert_ne!(hash("abcdefgh"), hash("abcdefgh\0"));
        assert_ne!(hash(""), hash("\0"));
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
