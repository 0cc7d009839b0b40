//! Keeping secret values out of diffs: values of entries marked secret
//! (`secret: true`, or a `generate` rule) are replaced by [`MASK`] before
//! a change is recorded.

use serde_json::Value;

use super::MASK;

/// Replaces secret values inside `v` (objects with `secret: true` or a
/// `generate` rule) by [`MASK`]; returns whether anything was masked.
pub(crate) fn mask_secrets(v: &mut Value) -> bool {
    match v {
        Value::Object(m) => {
            let mut masked = false;
            let secret = m.get("secret") == Some(&Value::Bool(true)) || m.contains_key("generate");
            if secret
                && let Some(value) = m.get_mut("value")
                && !is_absent(value)
            {
                *value = Value::String(MASK.to_owned());
                masked = true;
            }
            for child in m.values_mut() {
                masked |= mask_secrets(child);
            }
            masked
        }
        Value::Array(items) => items.iter_mut().fold(false, |acc, i| mask_secrets(i) | acc),
        _ => false,
    }
}

/// Whether a serialized entry holds a secret value.
pub(super) fn is_secret_object(v: &Value) -> bool {
    v.get("secret") == Some(&Value::Bool(true)) || v.get("generate").is_some()
}

/// A secret value as a change shows it: [`MASK`], or nothing when empty.
pub(super) fn masked(v: Option<&Value>) -> Option<Value> {
    v.filter(|v| !is_absent(v))
        .map(|_| Value::String(MASK.to_owned()))
}

/// Empty values (null, "", [], {}) count as absent: a change from nothing
/// to empty is no change, and an empty secret shows nothing to mask.
pub(super) fn is_absent(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}
