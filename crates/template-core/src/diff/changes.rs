//! Recording changes: two values known to differ (or one missing) become
//! [`FieldChange`]s at their path, leaf by leaf, with secrets masked and
//! config file contents as line diffs.

use std::collections::BTreeSet;

use serde_json::Value;

use super::lines::line_diff;
use super::masking::{is_absent, mask_secrets, masked};
use super::{ChangeKind, FieldChange, Section};

/// Where changes are being collected: the path prefix, the section and
/// the list entry they belong to. Borrowed, so walking unchanged parts
/// builds no strings.
#[derive(Clone, Copy)]
pub(super) struct Site<'a> {
    pub(super) base: &'a str,
    pub(super) section: Section,
    pub(super) item: Option<&'a str>,
}

impl<'a> Site<'a> {
    pub(super) fn top(section: Section) -> Site<'a> {
        Site {
            base: "",
            section,
            item: None,
        }
    }

    pub(super) fn path(&self, field: Option<&str>) -> String {
        match (self.base.is_empty(), field) {
            (_, None) => self.base.to_owned(),
            (true, Some(f)) => f.to_owned(),
            (false, Some(f)) => format!("{}.{f}", self.base),
        }
    }

    fn item(&self) -> Option<String> {
        self.item.map(str::to_owned)
    }
}

/// A whole list entry added or removed; secrets inside are masked.
pub(super) fn whole_entry(
    out: &mut Vec<FieldChange>,
    site: &Site<'_>,
    kind: ChangeKind,
    old: Option<Value>,
    new: Option<Value>,
) {
    let mut secret = false;
    let mut mask = |v: Option<Value>| {
        v.map(|mut v| {
            secret |= mask_secrets(&mut v);
            v
        })
    };
    let old = mask(old);
    let new = mask(new);
    out.push(FieldChange {
        path: site.path(None),
        section: site.section,
        item: site.item(),
        field: None,
        kind,
        old,
        new,
        secret,
        lines: Vec::new(),
    });
}

/// Changes between two values: objects are compared key by key down to
/// their leaves; anything else is one leaf. `secret` masks a `value` key
/// directly inside.
pub(super) fn value_changes(
    out: &mut Vec<FieldChange>,
    site: &Site<'_>,
    field: Option<&str>,
    old: Option<&Value>,
    new: Option<&Value>,
    secret: bool,
) {
    if old == new {
        return;
    }
    if let (Some(Value::Object(o)), Some(Value::Object(n))) = (old, new) {
        let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
        for k in keys {
            let (ov, nv) = (o.get(k), n.get(k));
            // Equal keys yield nothing: skip them before building a path.
            if ov == nv {
                continue;
            }
            let sub = match field {
                Some(f) => format!("{f}.{k}"),
                None => k.clone(),
            };
            if secret && k == "value" && field.is_none() {
                let (mo, mn) = (masked(ov), masked(nv));
                if let Some(kind) = kind_of(mo.as_ref(), mn.as_ref(), true) {
                    out.push(FieldChange {
                        path: site.path(Some(&sub)),
                        section: site.section,
                        item: site.item(),
                        field: Some(sub),
                        kind,
                        old: mo,
                        new: mn,
                        secret: true,
                        lines: Vec::new(),
                    });
                }
                continue;
            }
            value_changes(out, site, Some(&sub), ov, nv, false);
        }
        return;
    }
    leaf(out, site, field, old.cloned(), new.cloned());
}

/// One leaf change, or nothing when the values are equal. Empty values
/// (null, "", [], {}) count as absent.
pub(super) fn leaf(
    out: &mut Vec<FieldChange>,
    site: &Site<'_>,
    field: Option<&str>,
    old: Option<Value>,
    new: Option<Value>,
) {
    let old = old.filter(|v| !is_absent(v));
    let new = new.filter(|v| !is_absent(v));
    let Some(kind) = kind_of(old.as_ref(), new.as_ref(), false) else {
        return;
    };
    let mut secret = false;
    let mut lines = Vec::new();
    let (mut old, mut new) = (old, new);
    if site.section == Section::ConfigFiles
        && field == Some("content")
        && let (Some(Value::String(o)), Some(Value::String(n))) = (&old, &new)
    {
        lines = line_diff(o, n);
        old = None;
        new = None;
    }
    for v in [&mut old, &mut new].into_iter().flatten() {
        secret |= mask_secrets(v);
    }
    out.push(FieldChange {
        path: site.path(field),
        section: site.section,
        item: site.item(),
        field: field.map(str::to_owned),
        kind,
        old,
        new,
        secret,
        lines,
    });
}

fn kind_of(old: Option<&Value>, new: Option<&Value>, force_changed: bool) -> Option<ChangeKind> {
    match (old, new) {
        (None, None) => None,
        (None, Some(_)) => Some(ChangeKind::Added),
        (Some(_), None) => Some(ChangeKind::Removed),
        (Some(o), Some(n)) if o != n || force_changed => Some(ChangeKind::Changed),
        _ => None,
    }
}
