//! Ordering by dependency: Kahn's algorithm, layer by layer, so every
//! component comes after what it depends on and independent components
//! share a wave.

use std::collections::{BTreeMap, BTreeSet};

/// The layers of `nodes` (key → dependencies). Dependencies outside
/// `nodes` are taken as already satisfied. Each layer is in key order.
/// Nodes caught in a cycle (impossible in a valid version) come last, in
/// one layer, in key order, and are also returned on their own.
pub(crate) fn layers(
    nodes: &BTreeMap<String, BTreeSet<String>>,
) -> (Vec<Vec<String>>, Vec<String>) {
    let mut pending: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dependants: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (key, deps) in nodes {
        let inside = deps.iter().filter(|d| *d != key && nodes.contains_key(*d));
        let mut count = 0;
        for d in inside {
            count += 1;
            dependants.entry(d.as_str()).or_default().push(key.as_str());
        }
        pending.insert(key.as_str(), count);
    }
    let mut ready: BTreeSet<&str> = pending
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(k, _)| *k)
        .collect();
    let mut out = Vec::new();
    let mut placed = 0;
    while !ready.is_empty() {
        let layer: Vec<&str> = ready.iter().copied().collect();
        ready.clear();
        for k in &layer {
            pending.remove(k);
            for d in dependants.get(k).map(Vec::as_slice).unwrap_or(&[]) {
                if let Some(n) = pending.get_mut(d) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        ready.insert(d);
                    }
                }
            }
        }
        placed += layer.len();
        out.push(layer.into_iter().map(str::to_owned).collect());
    }
    let cyclic: Vec<String> = pending.keys().map(|k| (*k).to_owned()).collect();
    if placed < nodes.len() && !cyclic.is_empty() {
        out.push(cyclic.clone());
    }
    (out, cyclic)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        edges
            .iter()
            .map(|(k, d)| ((*k).to_owned(), d.iter().map(|s| (*s).to_owned()).collect()))
            .collect()
    }

    #[test]
    fn dependencies_come_first_and_independents_share_a_wave() {
        let g = graph(&[
            ("gateway", &["auth", "nacos"]),
            ("auth", &["mysql"]),
            ("nacos", &["mysql"]),
            ("mysql", &[]),
            ("redis", &[]),
        ]);
        let (l, cyclic) = layers(&g);
        assert!(cyclic.is_empty());
        assert_eq!(
            l,
            vec![
                vec!["mysql", "redis"],
                vec!["auth", "nacos"],
                vec!["gateway"]
            ]
        );
    }

    #[test]
    fn outside_dependencies_are_satisfied_and_cycles_come_last() {
        let g = graph(&[("a", &["b"]), ("b", &["a"]), ("c", &["elsewhere"])]);
        let (l, cyclic) = layers(&g);
        assert_eq!(l, vec![vec!["c"], vec!["a", "b"]]);
        assert_eq!(cyclic, vec!["a", "b"]);
    }
}
