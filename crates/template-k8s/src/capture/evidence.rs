//! Telling what the author wrote from what Kubernetes filled in: the
//! `last-applied-configuration` annotation of client-side apply, and the
//! fields owned by server-side-apply `Apply` managers, hold exactly what the
//! author sent. Without either, the caller falls back to known defaults.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use super::Evidence;

/// Annotation kubectl's client-side apply writes.
pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// One step of a path into an object.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Seg<'a> {
    /// A field of an object.
    Field(&'a str),
    /// The element of a list whose `field` equals `value` (containers by
    /// name, Service ports by port number).
    Keyed(&'a str, &'a Value),
}

/// What the author sent for one object, as far as the object records it.
#[derive(Debug, Default)]
pub(crate) struct Authored {
    last_applied: Option<Value>,
    applied: Vec<Value>,
}

impl Authored {
    /// The evidence recorded in `meta`. The annotation of a Secret is never
    /// read: it holds the Secret's data in clear.
    pub(crate) fn of(meta: &ObjectMeta, is_secret: bool) -> Authored {
        let last_applied = if is_secret {
            None
        } else {
            meta.annotations
                .as_ref()
                .and_then(|a| a.get(LAST_APPLIED))
                .and_then(|text| serde_json::from_str(text).ok())
        };
        let applied = meta
            .managed_fields
            .iter()
            .flatten()
            .filter(|m| m.operation.as_deref() == Some("Apply"))
            .filter_map(|m| m.fields_v1.as_ref().map(|f| f.0.clone()))
            .collect();
        Authored {
            last_applied,
            applied,
        }
    }

    /// Whether the author set the field at `path`, and by which evidence;
    /// none when nothing records what the author sent.
    pub(crate) fn authored(&self, path: &[Seg<'_>]) -> Option<(bool, Evidence)> {
        if !self.applied.is_empty() {
            let found = self.applied.iter().any(|fields| in_fields(fields, path));
            return Some((found, Evidence::AppliedFields));
        }
        let last = self.last_applied.as_ref()?;
        Some((in_object(last, path), Evidence::LastApplied))
    }
}

fn in_object(value: &Value, path: &[Seg<'_>]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return !value.is_null();
    };
    match first {
        Seg::Field(name) => value.get(*name).is_some_and(|v| in_object(v, rest)),
        Seg::Keyed(field, wanted) => value.as_array().is_some_and(|items| {
            items
                .iter()
                .filter(|i| i.get(*field) == Some(*wanted))
                .any(|i| in_object(i, rest))
        }),
    }
}

fn in_fields(fields: &Value, path: &[Seg<'_>]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    let Some(map) = fields.as_object() else {
        return false;
    };
    match first {
        Seg::Field(name) => map
            .get(&format!("f:{name}"))
            .is_some_and(|v| in_fields(v, rest)),
        Seg::Keyed(field, wanted) => map.iter().any(|(key, v)| {
            key.strip_prefix("k:")
                .and_then(|k| serde_json::from_str::<Value>(k).ok())
                .is_some_and(|k| k.get(*field) == Some(*wanted))
                && in_fields(v, rest)
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{FieldsV1, ManagedFieldsEntry};
    use serde_json::json;

    use super::*;

    #[test]
    fn server_side_apply_fields_name_what_the_author_sent() {
        let meta = ObjectMeta {
            managed_fields: Some(vec![
                ManagedFieldsEntry {
                    operation: Some("Apply".into()),
                    fields_v1: Some(FieldsV1(json!({
                        "f:spec": {"f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {"f:nodePort": {}}}}
                    }))),
                    ..Default::default()
                },
                ManagedFieldsEntry {
                    operation: Some("Update".into()),
                    fields_v1: Some(FieldsV1(json!({"f:spec": {"f:clusterIP": {}}}))),
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        let a = Authored::of(&meta, false);
        let port = json!(80);
        let path = [
            Seg::Field("spec"),
            Seg::Field("ports"),
            Seg::Keyed("port", &port),
            Seg::Field("nodePort"),
        ];
        assert_eq!(a.authored(&path), Some((true, Evidence::AppliedFields)));
        assert_eq!(
            a.authored(&[Seg::Field("spec"), Seg::Field("clusterIP")]),
            Some((false, Evidence::AppliedFields))
        );
    }

    #[test]
    fn last_applied_is_read_except_on_secrets() {
        let meta = ObjectMeta {
            annotations: Some(BTreeMap::from([(
                LAST_APPLIED.to_owned(),
                r#"{"spec":{"replicas":3,"containers":[{"name":"web","image":"x"}]}}"#.to_owned(),
            )])),
            ..Default::default()
        };
        let a = Authored::of(&meta, false);
        assert_eq!(
            a.authored(&[Seg::Field("spec"), Seg::Field("replicas")]),
            Some((true, Evidence::LastApplied))
        );
        let web = json!("web");
        assert_eq!(
            a.authored(&[
                Seg::Field("spec"),
                Seg::Field("containers"),
                Seg::Keyed("name", &web),
                Seg::Field("imagePullPolicy")
            ]),
            Some((false, Evidence::LastApplied))
        );
        assert_eq!(
            Authored::of(&meta, true).authored(&[Seg::Field("spec")]),
            None
        );
        assert_eq!(Authored::default().authored(&[Seg::Field("spec")]), None);
    }
}
