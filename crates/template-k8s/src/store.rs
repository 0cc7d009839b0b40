//! The installed state and the history of records, kept in the
//! application's namespace as small Secrets of ours.
//!
//! Each document (the state, or one record) is JSON split into parts of at
//! most [`PART_SIZE`] bytes, one Secret per part, so no object nears the
//! 1 MiB limit however big the template is. Secrets rather than ConfigMaps,
//! because the state and records hold values users typed into secret
//! variables. Generated secret values are never in them: those live only
//! in the `<template>-generated` Secret.
//!
//! Part 0, the head, is written last and names the number of parts and a
//! write id that every part carries. The other parts are named after their
//! write (`<document>-<write>-<n>`), so a writer interrupted before its head
//! leaves the previous write whole, and readers never mix two writes; the
//! next write deletes the parts no head names.
//!
//! The record is the journal and the state a checkpoint. An operation
//! writes its record when it starts and after every wave (which steps are
//! applied), and the state once, when it ends, marked with the revision
//! it is the outcome of. A state marked older than the newest record (the
//! client was killed, or lost the API server, mid-operation) is read as
//! that record's state after its applied steps, so readers, the next
//! operation and a rollback see what the cluster runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use std::collections::BTreeSet;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::core::PartialObjectMeta;
use template_core::{InstalledState, RecordSummary, UpgradeRecord};

use crate::error::{Error, Result};
use crate::render::FIELD_MANAGER;

/// Largest number of JSON bytes kept in one Secret.
pub const PART_SIZE: usize = 256 * 1024;

const LABEL_TEMPLATE: &str = "apptemplate.io/template";
const LABEL_DOCUMENT: &str = "apptemplate.io/document";
const LABEL_PART: &str = "apptemplate.io/part";
const LABEL_REVISION: &str = "apptemplate.io/revision";
const ANNOTATION_PARTS: &str = "apptemplate.io/parts";
const ANNOTATION_WRITE: &str = "apptemplate.io/write";
const ANNOTATION_SUMMARY: &str = "apptemplate.io/summary";
/// On a head: `write` when its parts are named after the write. Heads
/// written before this (parts named `<document>-<n>`) lack it.
const ANNOTATION_PART_NAMES: &str = "apptemplate.io/part-names";
const PART_NAMES_BY_WRITE: &str = "write";
/// On the state: the revision whose operation wrote it. A state without
/// it (written by hand or before this was kept) counts as current.
const ANNOTATION_AFTER: &str = "apptemplate.io/after-revision";
const SECRET_TYPE: &str = "apptemplate.io/document";
const DATA_KEY: &str = "json";

/// Reads and writes one installation's state and history.
///
/// A store serves one operation, under the installation's lock: it
/// remembers the parts of every document it listed or wrote, so writing
/// a document again (the record after every wave) needs no listing of
/// parts, and the listing that found the state also gives the history.
/// Clones share that memory.
#[derive(Debug, Clone)]
pub struct Store {
    api: Api<Secret>,
    namespace: String,
    template: String,
    known: Arc<Mutex<Known>>,
}

/// What a store knows of the installation's Secrets.
#[derive(Debug, Default)]
struct Known {
    /// Whether `parts` and `revisions` came from a listing of all of them
    /// (kept up to date with this store's writes since).
    listed: bool,
    /// Documents listed or written, with the names of their parts other
    /// than the head.
    parts: HashMap<String, BTreeSet<String>>,
    /// Revisions whose record exists.
    revisions: BTreeSet<u32>,
}

impl Store {
    /// The store of installation `template` in `namespace`.
    pub fn new(client: &Client, namespace: &str, template: &str) -> Store {
        Store {
            api: Api::namespaced(client.clone(), namespace),
            namespace: namespace.to_owned(),
            template: template.to_owned(),
            known: Arc::default(),
        }
    }

    /// The installed state; none before the first install. When the
    /// newest record is of an operation that ended without writing the
    /// state (its client was killed), the state is that record's state
    /// after the steps it says were applied.
    pub async fn load_state(&self) -> Result<Option<InstalledState>> {
        let listing = self.list().await?;
        let name = self.state_name();
        let head = listing
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name.as_str()));
        let after: Option<Option<u32>> = head.map(|head| {
            head.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_AFTER))
                .and_then(|r| r.parse().ok())
        });
        let newest = self.lock_known().revisions.last().copied();
        let unfinished = match (after, newest) {
            (Some(None), _) | (_, None) => None,
            (None, Some(newest)) => Some(newest),
            (Some(Some(after)), Some(newest)) => (newest > after).then_some(newest),
        };
        if let Some(revision) = unfinished {
            let record = self.record(revision).await?;
            return record
                .state_after()
                .map(Some)
                .map_err(|e| self.corrupt(&self.record_name(revision), &e.to_string()));
        }
        if head.is_none() {
            return Ok(None);
        }
        let Some(bytes) = self.read_document(&name).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| self.corrupt(&name, &e.to_string()))
    }

    /// Replaces the installed state (read as current whatever the history
    /// holds).
    pub async fn save_state(&self, state: &InstalledState) -> Result<()> {
        self.save_state_of(state, None).await
    }

    /// Replaces the installed state with the outcome of revision
    /// `revision`: until a newer revision's operation writes it again, a
    /// newer record says what the cluster runs.
    pub async fn save_state_after(&self, state: &InstalledState, revision: u32) -> Result<()> {
        self.save_state_of(state, Some(revision)).await
    }

    async fn save_state_of(&self, state: &InstalledState, revision: Option<u32>) -> Result<()> {
        let bytes = serde_json::to_vec(state).map_err(|e| self.corrupt("state", &e.to_string()))?;
        let name = self.state_name();
        let annotations = revision
            .map(|r| BTreeMap::from([(ANNOTATION_AFTER.to_owned(), r.to_string())]))
            .unwrap_or_default();
        self.write_document(&name, &bytes, BTreeMap::new(), annotations)
            .await
    }

    /// Stores `record` as the next revision and returns its number.
    pub async fn append_record(&self, record: &UpgradeRecord) -> Result<u32> {
        let revision = self.newest_revision().await?.saturating_add(1);
        self.write_record(revision, record).await?;
        Ok(revision)
    }

    /// Overwrites revision `revision` (used to finish a record started
    /// before an operation ran).
    pub async fn write_record(&self, revision: u32, record: &UpgradeRecord) -> Result<()> {
        self.write_record_summary(revision, record, &RecordSummary::of(revision, record))
            .await
    }

    async fn write_record_summary(
        &self,
        revision: u32,
        record: &UpgradeRecord,
        summary: &RecordSummary,
    ) -> Result<()> {
        let name = self.record_name(revision);
        let bytes = serde_json::to_vec(record).map_err(|e| self.corrupt(&name, &e.to_string()))?;
        let summary =
            serde_json::to_string(summary).map_err(|e| self.corrupt(&name, &e.to_string()))?;
        let labels = BTreeMap::from([(LABEL_REVISION.to_owned(), revision.to_string())]);
        let annotations = BTreeMap::from([(ANNOTATION_SUMMARY.to_owned(), summary)]);
        self.write_document(&name, &bytes, labels, annotations)
            .await?;
        self.lock_known().revisions.insert(revision);
        Ok(())
    }

    /// The newest revision's number; 0 before the first.
    pub async fn newest_revision(&self) -> Result<u32> {
        if !self.lock_known().listed {
            self.list().await?;
        }
        Ok(self.lock_known().revisions.last().copied().unwrap_or(0))
    }

    /// Every revision, oldest first.
    pub async fn history(&self) -> Result<Vec<RecordSummary>> {
        let listing = self.list().await?;
        let mut out = Vec::new();
        for secret in listing {
            let labels = secret.metadata.labels.as_ref();
            let is_head = labels.is_some_and(|l| {
                l.contains_key(LABEL_REVISION) && l.get(LABEL_PART).is_some_and(|p| p == "0")
            });
            if !is_head {
                continue;
            }
            let name = secret.metadata.name.clone().unwrap_or_default();
            let summary = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_SUMMARY))
                .ok_or_else(|| self.corrupt(&name, "the record has no summary annotation"))?;
            let summary: RecordSummary = serde_json::from_str(summary)
                .map_err(|e| self.corrupt(&name, &format!("unreadable summary: {e}")))?;
            out.push(summary);
        }
        out.sort_by_key(|s| s.revision);
        Ok(out)
    }

    /// The record of revision `revision`.
    pub async fn record(&self, revision: u32) -> Result<UpgradeRecord> {
        let name = self.record_name(revision);
        let bytes = self
            .read_document(&name)
            .await?
            .ok_or_else(|| Error::Store {
                namespace: self.namespace.clone(),
                object: name.clone(),
                message: format!(
                    "installation `{}` has no revision {revision}; list the history to pick one",
                    self.template
                ),
            })?;
        serde_json::from_slice(&bytes).map_err(|e| self.corrupt(&name, &e.to_string()))
    }

    /// The metadata of every Secret of the installation (all parts of all
    /// documents, no data), remembered for later writes.
    async fn list(&self) -> Result<Vec<PartialObjectMeta<Secret>>> {
        let selector = format!("{LABEL_TEMPLATE}={}", self.template);
        let list = self
            .api
            .list_metadata(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| self.kube("listing the state and history", e))?;
        let mut known = self.lock_known();
        *known = Known {
            listed: true,
            ..Known::default()
        };
        for secret in &list.items {
            let labels = secret.metadata.labels.as_ref();
            let label = |key: &str| labels.and_then(|l| l.get(key));
            let (Some(document), Some(part)) = (
                label(LABEL_DOCUMENT),
                label(LABEL_PART).and_then(|p| p.parse::<usize>().ok()),
            ) else {
                continue;
            };
            let parts = known.parts.entry(document.clone()).or_default();
            if part != 0
                && let Some(name) = &secret.metadata.name
            {
                parts.insert(name.clone());
            }
            if part == 0
                && let Some(revision) = label(LABEL_REVISION).and_then(|r| r.parse().ok())
            {
                known.revisions.insert(revision);
            }
        }
        Ok(list.items)
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_name(&self) -> String {
        format!("{}-state", self.template)
    }

    fn record_name(&self, revision: u32) -> String {
        format!("{}-rev-{revision}", self.template)
    }

    async fn read_document(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let Some(head) = self
            .api
            .get_opt(name)
            .await
            .map_err(|e| self.kube(&format!("reading {name}"), e))?
        else {
            return Ok(None);
        };
        let annotations = head.metadata.annotations.clone().unwrap_or_default();
        let parts: usize = annotations
            .get(ANNOTATION_PARTS)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| self.corrupt(name, "missing part count"))?;
        let write = annotations
            .get(ANNOTATION_WRITE)
            .cloned()
            .unwrap_or_default();
        let by_write = annotations
            .get(ANNOTATION_PART_NAMES)
            .is_some_and(|n| n == PART_NAMES_BY_WRITE);
        let mut bytes = chunk_of(&head);
        for part in 1..parts {
            let part_name = if by_write {
                part_name(name, &write, part)
            } else {
                format!("{name}-{part}")
            };
            let secret = self
                .api
                .get_opt(&part_name)
                .await
                .map_err(|e| self.kube(&format!("reading {part_name}"), e))?
                .ok_or_else(|| self.corrupt(&part_name, "part is missing"))?;
            let part_write = secret
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(ANNOTATION_WRITE));
            if part_write != Some(&write) {
                return Err(self.corrupt(
                    &part_name,
                    "part belongs to another write (a writer was interrupted); write the document again",
                ));
            }
            bytes.extend(chunk_of(&secret));
        }
        Ok(Some(bytes))
    }

    async fn write_document(
        &self,
        name: &str,
        bytes: &[u8],
        extra_labels: BTreeMap<String, String>,
        extra_annotations: BTreeMap<String, String>,
    ) -> Result<()> {
        let chunks = split(bytes, PART_SIZE);
        let write = Timestamp::now().as_nanosecond().to_string();
        let written: BTreeSet<String> = (1..chunks.len())
            .map(|index| part_name(name, &write, index))
            .collect();
        // Parts after the first go first; the head, naming them, last.
        for (index, chunk) in chunks.iter().enumerate().rev() {
            let part_name = if index == 0 {
                name.to_owned()
            } else {
                part_name(name, &write, index)
            };
            let mut labels = extra_labels.clone();
            labels.insert(LABEL_TEMPLATE.to_owned(), self.template.clone());
            labels.insert(LABEL_DOCUMENT.to_owned(), name.to_owned());
            labels.insert(LABEL_PART.to_owned(), index.to_string());
            labels.insert(
                "app.kubernetes.io/managed-by".to_owned(),
                FIELD_MANAGER.to_owned(),
            );
            let mut annotations = BTreeMap::from([(ANNOTATION_WRITE.to_owned(), write.clone())]);
            if index == 0 {
                annotations.insert(ANNOTATION_PARTS.to_owned(), chunks.len().to_string());
                annotations.insert(
                    ANNOTATION_PART_NAMES.to_owned(),
                    PART_NAMES_BY_WRITE.to_owned(),
                );
                annotations.extend(extra_annotations.clone());
            } else {
                // Only part 0 is a history entry.
                labels.remove(LABEL_REVISION);
            }
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(part_name.clone()),
                    namespace: Some(self.namespace.clone()),
                    labels: Some(labels),
                    annotations: Some(annotations),
                    ..Default::default()
                },
                type_: Some(SECRET_TYPE.to_owned()),
                data: Some(BTreeMap::from([(
                    DATA_KEY.to_owned(),
                    ByteString(chunk.to_vec()),
                )])),
                ..Default::default()
            };
            self.api
                .patch(
                    &part_name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&secret),
                )
                .await
                .map_err(|e| self.kube(&format!("writing {part_name}"), e))?;
        }
        // Parts of earlier writes (and of interrupted ones): known when
        // this store listed or wrote the document before, listed otherwise.
        let known = {
            let known = self.lock_known();
            match known.parts.get(name) {
                Some(parts) => Some(parts.clone()),
                None if known.listed => Some(BTreeSet::new()),
                None => None,
            }
        };
        let stale: Vec<String> = match known {
            Some(parts) => parts.difference(&written).cloned().collect(),
            None => {
                let selector =
                    format!("{LABEL_TEMPLATE}={},{LABEL_DOCUMENT}={name}", self.template);
                let list = self
                    .api
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .map_err(|e| self.kube(&format!("listing parts of {name}"), e))?;
                list.items
                    .into_iter()
                    .filter(|secret| {
                        secret
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(LABEL_PART))
                            .is_some_and(|part| part != "0")
                    })
                    .filter_map(|secret| secret.metadata.name)
                    .filter(|part| !written.contains(part))
                    .collect()
            }
        };
        for old in &stale {
            match self.api.delete(old, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => return Err(self.kube(&format!("deleting stale part {old}"), e)),
            }
        }
        self.lock_known().parts.insert(name.to_owned(), written);
        Ok(())
    }

    fn corrupt(&self, object: &str, message: &str) -> Error {
        Error::Store {
            namespace: self.namespace.clone(),
            object: object.to_owned(),
            message: message.to_owned(),
        }
    }

    fn kube(&self, action: &str, source: kube::Error) -> Error {
        Error::kube(format!("{action} in namespace {}", self.namespace), source)
    }
}

/// The name of part `index` (not the head) of write `write` of `document`.
fn part_name(document: &str, write: &str, index: usize) -> String {
    format!("{document}-{write}-{index}")
}

fn chunk_of(secret: &Secret) -> Vec<u8> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(DATA_KEY))
        .map(|b| b.0.clone())
        .unwrap_or_default()
}

/// Splits `bytes` into parts of at most `size` bytes; at least one part.
fn split(bytes: &[u8], size: usize) -> Vec<&[u8]> {
    if bytes.is_empty() {
        return vec![bytes];
    }
    bytes.chunks(size.max(1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_every_byte_in_order() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let parts = split(&bytes, 300);
        assert_eq!(parts.len(), 4);
        assert!(parts.iter().all(|p| p.len() <= 300));
        assert_eq!(parts.concat(), bytes);
        assert_eq!(split(&[], 300).len(), 1);
    }
}
