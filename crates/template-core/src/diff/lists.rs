//! Lists and maps compared entry by entry: entries with an identity are
//! matched by it (never by position), string sets by value, string maps
//! by key.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::changes::{Site, leaf, value_changes, whole_entry};
use super::masking::is_secret_object;
use super::{ChangeKind, FieldChange, to_value};
use crate::name_hash::{NameMap, SHORT_LIST};

/// Pairs each entry with its identity; repeated identities (possible only
/// in invalid documents) get `#2`, `#3`... so nothing is lost or merged.
pub(super) fn keyed<T>(items: &[T], key: impl Fn(&T) -> &str) -> Vec<(String, &T)> {
    keyed_names(items, key)
        .into_iter()
        .map(|(name, item)| (name.into_owned(), item))
        .collect()
}

/// [`keyed`], borrowing each name that needs no `#n` suffix.
pub(super) fn keyed_names<'a, T>(
    items: &'a [T],
    key: impl Fn(&'a T) -> &'a str,
) -> Vec<(Cow<'a, str>, &'a T)> {
    let mut seen: NameMap<'a, usize> = NameMap::with_len(items.len());
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let k = key(item);
        let n = seen.get_or_default(k);
        *n += 1;
        let name = if *n == 1 {
            Cow::Borrowed(k)
        } else {
            Cow::Owned(format!("{k}#{n}"))
        };
        out.push((name, item));
    }
    out
}

/// Changes of a list whose entries have an identity, at `<base>.<list>[id]`.
///
/// One pass in the usual case, the same keys in the same order: entries
/// are compared pairwise, as matching by key would pair them, and only a
/// pair that differs is serialized.
pub(super) fn keyed_entries<T: Serialize + PartialEq>(
    out: &mut Vec<FieldChange>,
    site: &Site<'_>,
    list: &str,
    old: &[T],
    new: &[T],
    key: impl Fn(&T) -> &str,
) {
    let mut list_path: Option<String> = None;
    let mut changed = |out: &mut Vec<FieldChange>, k: &str, o: &T, n: &T| {
        let list_path = list_path.get_or_insert_with(|| site.path(Some(list)));
        let (ov, nv) = (to_value(o), to_value(n));
        let secret = is_secret_object(&ov) || is_secret_object(&nv);
        let base = format!("{list_path}[{k}]");
        let entry = Site {
            base: &base,
            section: site.section,
            item: Some(k),
        };
        value_changes(out, &entry, None, Some(&ov), Some(&nv), secret);
    };
    if old.len() == new.len() {
        let start = out.len();
        // Names of long lists (with `#n` for repeats), built at the first
        // difference: the same on both sides while keys line up.
        let mut names: Option<Vec<(Cow<'_, str>, &T)>> = None;
        let mut aligned = true;
        for (i, (o, n)) in old.iter().zip(new).enumerate() {
            // Equal entries have equal keys.
            if o == n {
                continue;
            }
            let k = key(n);
            if key(o) != k {
                aligned = false;
                break;
            }
            if new.len() <= SHORT_LIST {
                // A short list is scanned for repeats before the entry.
                let repeats = new[..i].iter().filter(|&e| key(e) == k).count();
                if repeats == 0 {
                    changed(out, k, o, n);
                } else {
                    changed(out, &format!("{k}#{}", repeats + 1), o, n);
                }
            } else {
                let names = names.get_or_insert_with(|| keyed_names(new, &key));
                changed(out, &names[i].0, o, n);
            }
        }
        if aligned {
            return;
        }
        // Reordered: drop what the pairwise walk recorded, match by key.
        out.truncate(start);
    }
    let old_keyed = keyed_names(old, &key);
    let new_keyed = keyed_names(new, &key);
    let mut old_map: NameMap<'_, &T> = NameMap::with_len(old_keyed.len());
    for (k, t) in &old_keyed {
        old_map.insert(k, *t);
    }
    let mut new_map: NameMap<'_, &T> = NameMap::with_len(new_keyed.len());
    for (k, t) in &new_keyed {
        new_map.insert(k, *t);
    }
    let list_path = site.path(Some(list));
    let entry_base = |k: &str| format!("{list_path}[{k}]");
    for (k, n) in &new_keyed {
        match old_map.get(k) {
            None => {
                let base = entry_base(k);
                let entry = Site {
                    base: &base,
                    section: site.section,
                    item: Some(k.as_ref()),
                };
                whole_entry(out, &entry, ChangeKind::Added, None, Some(to_value(*n)));
            }
            Some(o) if *o != *n => changed(out, k, o, n),
            Some(_) => {}
        }
    }
    for (k, o) in &old_keyed {
        if !new_map.contains_key(k) {
            let base = entry_base(k);
            let entry = Site {
                base: &base,
                section: site.section,
                item: Some(k.as_ref()),
            };
            whole_entry(out, &entry, ChangeKind::Removed, Some(to_value(*o)), None);
        }
    }
}

/// Changes of a set of strings (dependencies): one entry per key added or
/// removed, at `<base>.<list>[key]`.
pub(super) fn set_changes(
    out: &mut Vec<FieldChange>,
    site: &Site<'_>,
    list: &str,
    old: &[String],
    new: &[String],
) {
    if old == new {
        return;
    }
    let o: BTreeSet<&String> = old.iter().collect();
    let n: BTreeSet<&String> = new.iter().collect();
    let list_path = site.path(Some(list));
    for (kind, set, other) in [(ChangeKind::Added, &n, &o), (ChangeKind::Removed, &o, &n)] {
        for k in set.difference(other) {
            let value = Some(Value::String((*k).clone()));
            let (old, new) = match kind {
                ChangeKind::Removed => (value, None),
                _ => (None, value),
            };
            out.push(FieldChange {
                path: format!("{list_path}[{k}]"),
                section: site.section,
                item: Some((*k).clone()),
                field: None,
                kind,
                old,
                new,
                secret: false,
                lines: Vec::new(),
            });
        }
    }
}

/// Changes of a string map (labels), at `<base>.<map>[key]`.
pub(super) fn map_changes(
    out: &mut Vec<FieldChange>,
    site: &Site<'_>,
    map: &str,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) {
    if old == new {
        return;
    }
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let map_path = site.path(Some(map));
    for k in keys {
        let base = format!("{map_path}[{k}]");
        let entry = Site {
            base: &base,
            section: site.section,
            item: Some(k.as_str()),
        };
        leaf(
            out,
            &entry,
            None,
            old.get(k).map(|v| Value::String(v.clone())),
            new.get(k).map(|v| Value::String(v.clone())),
        );
    }
}
