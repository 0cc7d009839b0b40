//! The market on an OCI registry: template versions as OCI artifacts in a
//! registry that every machine of a vendor reaches (consoles, CI runners,
//! clusters), beside the images they name.
//!
//! Layout under a location `oci://<host>[:port]/<namespace>` (see
//! `docs/registry-market.md`):
//!
//! - `<namespace>/templates/<template id>`: one repository per template;
//!   each version is the same artifact manifest as in the filesystem
//!   market (artifact type [`VERSION_ARTIFACT_TYPE`], the document and the
//!   logo as layers), tagged with its version number (`+` written `_`, as
//!   tags cannot hold `+`).
//! - `<namespace>/<image repository>`: the images, where relocation to the
//!   registry `<host>/<namespace>` puts them, so an environment whose
//!   registry is the market's installs without moving a byte.
//! - Release transitions: small signed artifacts whose `subject` is the
//!   version's manifest ([`RELEASE_TRANSITION_ARTIFACT_TYPE`]), found
//!   through the referrers API, or through the referrers tag schema
//!   (`sha256-<hex>`) on registries without it.
//!
//! There is no lock server. Publishing checks the tag before and after
//! writing it; transitions form a chain (each names the one it follows),
//! and when two are written from the same state at once, every reader
//! picks the same one (the earliest, then the smallest digest); the other
//! writer is told it lost.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use oci_spec::image::{ImageManifest, MediaType};
use serde::Serialize;
use template_core::package::format::{
    OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE, VERSION_ARTIFACT_TYPE,
    VERSION_DOCUMENT_MEDIA_TYPE,
};
use template_core::package::{canonical_json, descriptor, image_digest, image_name};
use template_core::{Overwrite, PublishOutcome, ReleaseState, TemplateVersion, ValidatedVersion};

use crate::catalog::ImageRef;
use crate::error::{MarketError, Result};
use crate::market::{MAX_DOCUMENT_BYTES, Market, TemplateSummary, VersionSummary, sort_summaries};
use crate::options::RegistryAccess;
use crate::pull::{PullCallback, PullOptions, PullReport};
use crate::registry::{Access, Client, RegistryTarget, run_parallel};
use crate::relocate::{RelocateCallback, RelocateOptions, RelocateReport};
use crate::signing::SecretKey;

/// The artifact type of a release transition.
pub const RELEASE_TRANSITION_ARTIFACT_TYPE: &str =
    "application/vnd.apptemplate.release-transition.v1+json";
/// The media type of a release transition's record.
const TRANSITION_MEDIA_TYPE: &str = "application/vnd.apptemplate.release-transition.v1+json";
/// Annotations a transition's manifest carries, so that listing the
/// referrers tells the chain without reading each one.
const ANNOTATION_FROM: &str = "io.apptemplate.transition.from";
const ANNOTATION_TO: &str = "io.apptemplate.transition.to";
const ANNOTATION_SEQUENCE: &str = "io.apptemplate.transition.sequence";
const ANNOTATION_PREVIOUS: &str = "io.apptemplate.transition.previous";
const ANNOTATION_SIGNER: &str = "io.apptemplate.transition.signer";
const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";

/// A market on an OCI registry, at `oci://<host>[:port]/<namespace>`.
#[derive(Debug, Clone)]
pub struct RegistryMarket {
    location: String,
    target: RegistryTarget,
    request_timeout: Duration,
    /// Version documents read, by artifact digest: an artifact never
    /// changes, so a document once read needs no request again (a tag
    /// still does, as it can move). Shared by clones.
    documents: std::sync::Arc<std::sync::Mutex<HashMap<String, TemplateVersion>>>,
}

/// Documents kept in memory at most; the cache starts over beyond.
const CACHED_DOCUMENTS: usize = 4096;

/// What [`RegistryMarket::publish_from`] did. Serializes with its field
/// names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RegistryPublishReport {
    /// Created, unchanged or replaced, with the content digest.
    pub outcome: PublishOutcome,
    /// The version's reference in the registry (`<host>/<repo>:<tag>`).
    pub reference: String,
    /// The digest of the version's artifact manifest.
    pub artifact: String,
    /// What was pushed: the images first, then the artifact.
    pub transfer: RelocateReport,
}

/// A release transition as recorded in the registry. Serializes with its
/// field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ReleaseTransition {
    /// Digest of the transition's manifest.
    pub digest: String,
    /// The state it moved from.
    pub from: ReleaseState,
    /// The state it moved to.
    pub to: ReleaseState,
    /// Its place in the chain (1 for the first).
    pub sequence: u64,
    /// The transition it follows, if any.
    pub previous: Option<String>,
    /// When it was written (RFC 3339, UTC, nanoseconds).
    pub created: String,
    /// The id of the key that signed it, if signed.
    pub signer: Option<String>,
    /// Its writer found a concurrent transition from the same state and
    /// withdrew it: it does not count.
    pub withdrawn: bool,
    /// Size of its manifest, when known.
    #[serde(skip)]
    size: Option<u64>,
}

/// What [`RegistryMarket::fetch_into`] did. Serializes with its field
/// names.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FetchReport {
    /// How the version landed in the local market.
    pub outcome: PublishOutcome,
    /// The images pulled.
    pub pull: PullReport,
}

impl RegistryMarket {
    /// Whether `location` names a registry market (`oci://…`).
    pub fn is_location(location: &str) -> bool {
        location.starts_with("oci://")
    }

    /// The market at `oci://<host>[:port]/<namespace>`, reached with the
    /// entry of `accesses` for that registry (TLS, credentials, `insecure`),
    /// else over HTTPS with the default `auth.json`
    /// ([`RegistryAccess::target_for`]). Nothing is asked of the registry
    /// until an operation runs.
    pub fn open(location: &str, accesses: &[RegistryAccess]) -> Result<RegistryMarket> {
        let bad = |message: &str| MarketError::Registry {
            registry: location.to_owned(),
            item: "market location".to_owned(),
            message: message.to_owned(),
        };
        let rest = location
            .strip_prefix("oci://")
            .ok_or_else(|| bad("a registry market's location starts with `oci://`, e.g. `oci://registry.example.com:5000/vendor`"))?
            .trim_end_matches('/');
        let Some((host, namespace)) = rest.split_once('/') else {
            return Err(bad(
                "name a namespace after the registry (`oci://<host>/<namespace>`), so the market's repositories do not mix with others",
            ));
        };
        if host.is_empty() || namespace.is_empty() || !namespace.split('/').all(is_path_component) {
            return Err(bad(
                "the namespace must be lowercase path components (`a-z`, `0-9`, `.`, `_`, `-`), e.g. `oci://registry.example.com/vendor/market`",
            ));
        }
        let target = RegistryAccess::target_for(accesses, rest)?;
        Ok(RegistryMarket {
            location: format!("oci://{rest}"),
            target,
            request_timeout: RelocateOptions::default().request_timeout,
            documents: Default::default(),
        })
    }

    /// The same market with another timeout for one HTTP request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> RegistryMarket {
        self.request_timeout = timeout;
        self
    }

    /// The location, `oci://<host>/<namespace>`.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The registry target (`<host>/<namespace>`), which is also what an
    /// environment names as its registry to install from this market.
    pub fn target(&self) -> &RegistryTarget {
        &self.target
    }

    fn client(&self, access: Access) -> Result<Client<'_>> {
        Client::connect(&self.target, access, self.request_timeout, 64 << 20)
    }

    fn namespace(&self) -> &str {
        self.target.prefix().unwrap_or_default()
    }

    /// The repository of a template's versions.
    pub fn template_repository(&self, template: &str) -> String {
        format!("{}/templates/{template}", self.namespace())
    }

    fn not_found(&self, what: String) -> MarketError {
        MarketError::Registry {
            registry: self.target.registry.clone(),
            item: what,
            message: "not found in the registry market; list what it holds with `versions`"
                .to_owned(),
        }
    }

    /// Publishes `template` `version` of a local market here: every image
    /// the version names (what the registry lacks, mounted across
    /// repositories where it can), then the version's artifact under its
    /// tag. The rules are those of [`Market::publish`] against what the
    /// registry holds under that number: identical content is a no-op,
    /// other content is refused unless `overwrite` allows replacing an
    /// unreleased version. A publisher that finds, after writing, another
    /// artifact under the tag (a concurrent publisher of the same number
    /// with other content) fails with [`MarketError::Conflict`].
    pub fn publish_from(
        &self,
        local: &Market,
        template: &str,
        version: &str,
        overwrite: Overwrite,
        options: &RelocateOptions,
        progress: &mut RelocateCallback<'_>,
    ) -> Result<RegistryPublishReport> {
        let doc = local.version(template, version)?;
        let artifact = {
            let _lock = local.lock(false)?;
            let catalog = local.catalog()?;
            catalog
                .versions
                .get(&(template.to_owned(), version.to_owned()))
                .map(|r| r.artifact.digest().to_string())
                .ok_or_else(|| MarketError::NotFound {
                    what: format!("template {template} version {version}"),
                    market: local.root().to_owned(),
                })?
        };
        let repository = self.template_repository(template);
        let tag = version_tag(version);
        let reference = format!("{}/{repository}:{tag}", self.target.host());
        let client = self.client(Access::Pull)?;
        let existing = client.manifest_digest(&repository, &tag, OCI_MANIFEST_MEDIA_TYPE)?;
        let outcome = match &existing {
            Some(d) if *d == artifact => PublishOutcome::Unchanged {
                digest: template_core::content_digest(&doc)?,
            },
            Some(d) => {
                let mut there = self.read_version(&client, &repository, d)?;
                there.release_state = self
                    .effective_state(&client, &repository, version, d, &there, None)?
                    .0;
                let mut candidate = TemplateVersion::clone(&doc);
                // The registry takes versions in any state the vendor's
                // market holds them in; the life cycle applies to the one
                // already there.
                if candidate.release_state.is_frozen() {
                    candidate.release_state = ReleaseState::Testing;
                }
                template_core::check_publish(Some(&there), &candidate, overwrite)?
            }
            None => PublishOutcome::Created {
                digest: template_core::content_digest(&doc)?,
            },
        };
        if let PublishOutcome::Unchanged { .. } = outcome
            && existing.as_deref() == Some(artifact.as_str())
        {
            return Ok(RegistryPublishReport {
                outcome,
                reference,
                artifact,
                transfer: RelocateReport::default(),
            });
        }
        let images = version_images(&doc);
        let mut transfer = local.relocate_images(&images, &self.target, options, progress)?;
        let artifact_image = ImageRef {
            name: format!("templates/{template}:{tag}"),
            digest: artifact.clone(),
        };
        let tagged = RelocateOptions {
            push_tags: true,
            ..options.clone()
        };
        let pushed = local.relocate_images(&[artifact_image], &self.target, &tagged, progress)?;
        transfer.counts += pushed.counts;
        let now = client.manifest_digest(&repository, &tag, OCI_MANIFEST_MEDIA_TYPE)?;
        if now.as_deref() != Some(artifact.as_str()) {
            return Err(MarketError::Conflict {
                location: self.location.clone(),
                item: format!("{repository}:{tag}"),
                message: format!(
                    "another publisher wrote {} under this version number while this one wrote {artifact}; the registry keeps theirs. Compare the two (`version`) and publish under a new number",
                    now.unwrap_or_else(|| "nothing".to_owned())
                ),
            });
        }
        Ok(RegistryPublishReport {
            outcome,
            reference,
            artifact,
            transfer,
        })
    }

    /// The version document in the registry, with its current release
    /// state (the transitions applied), validated once here as
    /// [`Market::version`](crate::Market::version) does.
    pub fn version(&self, template: &str, version: &str) -> Result<ValidatedVersion> {
        let client = self.client(Access::Pull)?;
        let repository = self.template_repository(template);
        let digest = self.artifact_digest(&client, &repository, template, version)?;
        let mut doc = self.read_version(&client, &repository, &digest)?;
        doc.release_state = self
            .effective_state(&client, &repository, version, &digest, &doc, None)?
            .0;
        Ok(ValidatedVersion::new(doc)?)
    }

    /// The versions of a template, oldest first, with their current
    /// release states. Versions are read in parallel (eight at a time).
    pub fn versions(&self, template: &str) -> Result<Vec<VersionSummary>> {
        let client = self.client(Access::Pull)?;
        self.versions_with(&client, template)
    }

    fn versions_with(&self, client: &Client<'_>, template: &str) -> Result<Vec<VersionSummary>> {
        let repository = self.template_repository(template);
        let all_tags = client.tags(&repository)?;
        let tags: Vec<&String> = all_tags
            .iter()
            .filter(|t| semver::Version::parse(&tag_version(t)).is_ok())
            .collect();
        let never = std::sync::atomic::AtomicBool::new(false);
        let mut out = run_parallel(8, &tags, &never, "listing versions", |tag| {
            let digest = client
                .manifest_digest(&repository, tag, OCI_MANIFEST_MEDIA_TYPE)?
                .ok_or_else(|| self.not_found(format!("{repository}:{tag}")))?;
            let doc = self.read_version(client, &repository, &digest)?;
            let (state, _) = self.effective_state(
                client,
                &repository,
                &tag_version(tag),
                &digest,
                &doc,
                Some(&all_tags),
            )?;
            let mut current = doc;
            current.release_state = state;
            Ok(VersionSummary {
                template: template.to_owned(),
                version: tag_version(tag),
                state,
                site_state: None,
                vendor_package: None,
                content_digest: template_core::content_digest(&current)?,
            })
        })?;
        sort_summaries(&mut out);
        Ok(out)
    }

    /// Every template (repositories under `<namespace>/templates/`, from
    /// the registry's catalog API) with its versions.
    pub fn templates(&self) -> Result<Vec<TemplateSummary>> {
        let client = self.client(Access::Pull)?;
        let prefix = format!("{}/templates/", self.namespace());
        let mut ids: Vec<String> = client
            .repositories()?
            .into_iter()
            .filter_map(|r| r.strip_prefix(&prefix).map(str::to_owned))
            .filter(|id| !id.contains('/'))
            .collect();
        ids.sort();
        let mut out = Vec::new();
        for id in ids {
            let versions = self.versions_with(&client, &id)?;
            let Some(last) = versions.last() else {
                continue;
            };
            let repository = self.template_repository(&id);
            let digest = self.artifact_digest(&client, &repository, &id, &last.version)?;
            let name = self
                .read_version(&client, &repository, &digest)?
                .template
                .name;
            out.push(TemplateSummary { id, name, versions });
        }
        Ok(out)
    }

    /// The release transitions of a version, in the order they were
    /// written, including any that lost a race (not on the chain).
    pub fn transitions(&self, template: &str, version: &str) -> Result<Vec<ReleaseTransition>> {
        let client = self.client(Access::Pull)?;
        let repository = self.template_repository(template);
        let digest = self.artifact_digest(&client, &repository, template, version)?;
        let mut all = self.list_transitions(&client, &repository, version, &digest, None)?;
        all.sort_by(|a, b| {
            (a.sequence, &a.created, &a.digest).cmp(&(b.sequence, &b.created, &b.digest))
        });
        Ok(all)
    }

    /// Moves a version to another release state, checking the life cycle
    /// ([`template_core::set_release_state`]) from its current state: a
    /// transition artifact (signed with `key` when given, timestamped
    /// `now`) whose `subject` is the version's manifest is written under a
    /// tag of its own, then the transitions are read back. When another
    /// writer moved the version from the same state at the same time, this
    /// transition is withdrawn and the call fails with
    /// [`MarketError::Conflict`] naming the state the version is in: a
    /// transition reported done stays done, and none overwrites a newer
    /// one. Returns `None` when the version is in `state` already.
    ///
    /// When every writer of a race withdrew (the version did not move),
    /// this one tries again, up to three times, after a pause that
    /// differs between writers.
    pub fn set_release_state(
        &self,
        template: &str,
        version: &str,
        state: ReleaseState,
        key: Option<&SecretKey>,
        now: SystemTime,
    ) -> Result<Option<ReleaseTransition>> {
        let mut attempt = 0u32;
        loop {
            let started = now + Duration::from_nanos(u64::from(attempt));
            match self.write_transition(template, version, state, key, started) {
                Ok(done) => return Ok(done),
                Err(Attempt::NobodyWon(_, pause)) if attempt < 3 => {
                    std::thread::sleep(pause);
                    attempt += 1;
                }
                Err(Attempt::NobodyWon(e, _) | Attempt::Failed(e)) => return Err(e),
            }
        }
    }

    fn write_transition(
        &self,
        template: &str,
        version: &str,
        state: ReleaseState,
        key: Option<&SecretKey>,
        now: SystemTime,
    ) -> std::result::Result<Option<ReleaseTransition>, Attempt> {
        let client = self.client(Access::Push)?;
        let repository = self.template_repository(template);
        let digest = self.artifact_digest(&client, &repository, template, version)?;
        let mut doc = self.read_version(&client, &repository, &digest)?;
        let (current, head) =
            self.effective_state(&client, &repository, version, &digest, &doc, None)?;
        doc.release_state = current;
        if current == state {
            return Ok(None);
        }
        template_core::set_release_state(&mut doc, state)?;
        let sequence = head.as_ref().map_or(1, |h| h.sequence + 1);
        let created = rfc3339(now);
        let record = serde_json::json!({
            "template": template,
            "version": version,
            "artifact": digest,
            "from": current,
            "to": state,
            "sequence": sequence,
            "previous": head.as_ref().map(|h| h.digest.clone()),
            "created": created,
        });
        let record_bytes = canonical_json(&record)?;
        let record_digest = sha256(&record_bytes);
        client.put_small_blob(&repository, &record_digest, &record_bytes)?;
        let mut layers = vec![descriptor(
            TRANSITION_MEDIA_TYPE,
            &record_digest,
            record_bytes.len() as u64,
        )?];
        let mut signer = None;
        if let Some(key) = key {
            let signature = crate::signing::sign(
                &record_bytes,
                key,
                &format!("{template} {version} {state} {created}"),
            )?;
            let sig_digest = sha256(&signature.bytes);
            client.put_small_blob(&repository, &sig_digest, &signature.bytes)?;
            layers.push(descriptor(
                &signature.media_type,
                &sig_digest,
                signature.bytes.len() as u64,
            )?);
            signer = crate::signing::signer_of(&signature);
        }
        client.put_small_blob(
            &repository,
            template_core::package::format::EMPTY_DIGEST,
            template_core::package::format::EMPTY_BLOB,
        )?;
        let subject = descriptor(
            OCI_MANIFEST_MEDIA_TYPE,
            &digest,
            self.manifest_size(&client, &repository, &digest)?,
        )?;
        let mut written = ReleaseTransition {
            digest: String::new(),
            from: current,
            to: state,
            sequence,
            previous: head.map(|h| h.digest),
            created,
            signer,
            withdrawn: false,
            size: None,
        };
        let manifest = oci_spec::image::ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .artifact_type(MediaType::from(RELEASE_TRANSITION_ARTIFACT_TYPE))
            .config(template_core::package::empty_descriptor()?)
            .layers(layers)
            .subject(subject)
            .annotations(
                written
                    .annotations()
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            )
            .build()
            .map_err(|e| {
                client.error(
                    &format!("{repository}@{digest}"),
                    format!("cannot build the transition manifest: {e}"),
                )
            })?;
        let bytes = canonical_json(&manifest)?;
        written.digest = sha256(&bytes);
        written.size = Some(bytes.len() as u64);
        let vtag = version_tag(version);
        let own_tag = format!("{vtag}.rt-{}", tag_suffix(&written.digest));
        client.put_manifest_bytes(
            &repository,
            &written.digest,
            OCI_MANIFEST_MEDIA_TYPE,
            &bytes,
            &written.digest,
        )?;
        client.put_manifest_bytes(
            &repository,
            &own_tag,
            OCI_MANIFEST_MEDIA_TYPE,
            &bytes,
            &written.digest,
        )?;

        let withdrawal = format!("{vtag}.rw-{}", tag_suffix(&written.digest));
        let decided = self.decide(&client, &repository, version, &digest, &written);
        if !matches!(decided, Ok(Decision::Done)) {
            // Lost, or could not tell: withdraw, so that no reader counts
            // a transition its writer did not report done.
            let withdrawn = client.put_manifest_bytes(
                &repository,
                &withdrawal,
                OCI_MANIFEST_MEDIA_TYPE,
                &bytes,
                &written.digest,
            );
            if let Err(e) = withdrawn {
                return Err(decided.err().unwrap_or(e).into());
            }
        }
        match decided? {
            Decision::Done => Ok(Some(written)),
            Decision::Lost(rivals) => {
                let (now_state, now_head) = self.effective_state(
                    &client,
                    &repository,
                    version,
                    &digest,
                    &self.read_version(&client, &repository, &digest)?,
                    None,
                )?;
                let conflict = MarketError::Conflict {
                    location: self.location.clone(),
                    item: format!("{repository}:{vtag}"),
                    message: format!(
                        "another writer moved the version from {current} at the same time ({}); this transition was withdrawn and the version is {now_state}. Run the change again if it still applies",
                        rivals.join(", ")
                    ),
                };
                if now_head.map(|h| h.digest) == written.previous {
                    // Everybody withdrew: pause 20 to 335 ms, by this
                    // transition's digest, and try again.
                    let jitter = u64::from_str_radix(
                        tag_suffix(&written.digest).get(..2).unwrap_or("0"),
                        16,
                    )
                    .unwrap_or(0);
                    return Err(Attempt::NobodyWon(
                        conflict,
                        Duration::from_millis(20 + jitter * 5 / 4),
                    ));
                }
                Err(Attempt::Failed(conflict))
            }
        }
    }

    /// Reads the transitions back after writing `written`: done when no
    /// other transition from the same point counts.
    fn decide(
        &self,
        client: &Client<'_>,
        repository: &str,
        version: &str,
        digest: &str,
        written: &ReleaseTransition,
    ) -> Result<Decision> {
        let tags = client.tags(repository)?;
        let mut all = self.list_transitions(client, repository, version, digest, Some(&tags))?;
        for t in &mut all {
            if t.digest == written.digest {
                t.size = written.size;
            } else if t.size.is_none() {
                t.size = Some(self.manifest_size(client, repository, &t.digest)?);
            }
        }
        if client.referrers_api(repository, digest)?.is_none() {
            // Best effort: the tags are what this market reads.
            let _ = self.write_fallback_index(client, repository, digest, &all);
        }
        let rivals: Vec<String> = all
            .iter()
            .filter(|t| {
                t.digest != written.digest && !t.withdrawn && t.previous == written.previous
            })
            .map(|t| format!("to {} as {}", t.to, t.digest))
            .collect();
        Ok(if rivals.is_empty() {
            Decision::Done
        } else {
            Decision::Lost(rivals)
        })
    }

    /// Removes a version: its artifact (and so its tag) and its release
    /// transitions. Released and deprecated versions need `force`. The
    /// images stay (other versions may use them); the registry's own
    /// garbage collection frees blobs nothing references any more.
    pub fn delete_version(&self, template: &str, version: &str, force: bool) -> Result<()> {
        let client = self.client(Access::Push)?;
        let repository = self.template_repository(template);
        let digest = self.artifact_digest(&client, &repository, template, version)?;
        let doc = self.read_version(&client, &repository, &digest)?;
        let all = self.list_transitions(&client, &repository, version, &digest, None)?;
        let state = resolve_chain(doc.release_state, &all)
            .last()
            .map_or(doc.release_state, |t| t.to);
        if state.is_frozen() && !force {
            return Err(MarketError::DeleteReleased {
                template: template.to_owned(),
                version: version.to_owned(),
                state,
            });
        }
        // The version first: once it is gone, nothing reads its
        // transitions, whatever becomes of them.
        client.delete_manifest(&repository, &digest)?;
        for t in &all {
            client.delete_manifest(&repository, &t.digest)?;
        }
        let index_tag = digest.replacen(':', "-", 1);
        if let Some(index) =
            client.manifest_digest(&repository, &index_tag, OCI_INDEX_MEDIA_TYPE)?
        {
            client.delete_manifest(&repository, &index)?;
        }
        Ok(())
    }

    /// Pulls a version and its images from here into a local market, with
    /// its current release state: what a site does before exporting an
    /// offline package, or to install from a local copy. Images the local
    /// market has are skipped; a rerun after an interruption resumes.
    pub fn fetch_into(
        &self,
        local: &Market,
        template: &str,
        version: &str,
        options: &PullOptions,
        progress: &mut PullCallback<'_>,
    ) -> Result<FetchReport> {
        let client = self.client(Access::Pull)?;
        let repository = self.template_repository(template);
        let digest = self.artifact_digest(&client, &repository, template, version)?;
        let (manifest_bytes, _) = client.get_manifest(
            &repository,
            &digest,
            OCI_MANIFEST_MEDIA_TYPE,
            MAX_DOCUMENT_BYTES,
        )?;
        let mut doc = self.read_version(&client, &repository, &digest)?;
        doc.release_state = self
            .effective_state(&client, &repository, version, &digest, &doc, None)?
            .0;
        let images: Vec<String> = version_images(&doc)
            .iter()
            .map(|i| self.target.relocated_reference(i))
            .collect::<Result<_>>()?;
        let pull = local.pull(&images, &self.target, options, progress)?;
        let manifest: ImageManifest = serde_json::from_slice(&manifest_bytes).map_err(|e| {
            client.error(
                &format!("{repository}@{digest}"),
                format!("the version's manifest is not an OCI manifest: {e}"),
            )
        })?;
        for layer in manifest.layers() {
            if layer.media_type().to_string() == VERSION_DOCUMENT_MEDIA_TYPE {
                continue;
            }
            let d = layer.digest().to_string();
            if !local.store().has(&d) {
                let bytes = client.get_small_blob(&repository, &d, MAX_DOCUMENT_BYTES)?;
                let _lock = local.lock(true)?;
                local.store().put_bytes(&bytes)?;
            }
        }
        let outcome = local.record_fetched(&doc)?;
        Ok(FetchReport { outcome, pull })
    }

    fn artifact_digest(
        &self,
        client: &Client<'_>,
        repository: &str,
        template: &str,
        version: &str,
    ) -> Result<String> {
        client
            .manifest_digest(repository, &version_tag(version), OCI_MANIFEST_MEDIA_TYPE)?
            .ok_or_else(|| {
                self.not_found(format!(
                    "template {template} version {version} ({repository}:{})",
                    version_tag(version)
                ))
            })
    }

    fn manifest_size(&self, client: &Client<'_>, repository: &str, digest: &str) -> Result<u64> {
        let (bytes, _) = client.get_manifest(
            repository,
            digest,
            OCI_MANIFEST_MEDIA_TYPE,
            MAX_DOCUMENT_BYTES,
        )?;
        Ok(bytes.len() as u64)
    }

    /// The version document of an artifact manifest.
    fn read_version(
        &self,
        client: &Client<'_>,
        repository: &str,
        digest: &str,
    ) -> Result<TemplateVersion> {
        if let Some(doc) = self
            .documents
            .lock()
            .ok()
            .and_then(|d| d.get(digest).cloned())
        {
            return Ok(doc);
        }
        let item = format!("{repository}@{digest}");
        let (bytes, _) = client.get_manifest(
            repository,
            digest,
            OCI_MANIFEST_MEDIA_TYPE,
            MAX_DOCUMENT_BYTES,
        )?;
        let manifest: ImageManifest = serde_json::from_slice(&bytes)
            .map_err(|e| client.error(&item, format!("not an OCI manifest ({e}); the repository holds something other than template versions")))?;
        if manifest
            .artifact_type()
            .as_ref()
            .map(|t| t.to_string())
            .as_deref()
            != Some(VERSION_ARTIFACT_TYPE)
        {
            return Err(client.error(&item, format!("not a template version (artifact type is not {VERSION_ARTIFACT_TYPE}); the repository holds something else")));
        }
        let doc = manifest
            .layers()
            .iter()
            .find(|l| l.media_type().to_string() == VERSION_DOCUMENT_MEDIA_TYPE)
            .ok_or_else(|| client.error(&item, "the version artifact has no document layer"))?;
        let bytes = client.get_small_blob(repository, doc.digest().as_ref(), MAX_DOCUMENT_BYTES)?;
        let options = template_core::LoadOptions {
            max_bytes: usize::try_from(MAX_DOCUMENT_BYTES).unwrap_or(usize::MAX),
        };
        let doc = template_core::load(&bytes, template_core::Format::Json, options)?;
        if let Ok(mut cache) = self.documents.lock() {
            if cache.len() >= CACHED_DOCUMENTS {
                cache.clear();
            }
            cache.insert(digest.to_owned(), doc.clone());
        }
        Ok(doc)
    }

    /// The current state and the head of the chain of transitions of the
    /// version `version` whose artifact is `digest`; `tags` is the
    /// repository's tag list when the caller has it.
    fn effective_state(
        &self,
        client: &Client<'_>,
        repository: &str,
        version: &str,
        digest: &str,
        doc: &TemplateVersion,
        tags: Option<&[String]>,
    ) -> Result<(ReleaseState, Option<ReleaseTransition>)> {
        let all = self.list_transitions(client, repository, version, digest, tags)?;
        let chain = resolve_chain(doc.release_state, &all);
        let head = chain.last().cloned();
        Ok((head.as_ref().map_or(doc.release_state, |h| h.to), head))
    }

    /// Every transition recorded for the artifact `digest` of `version`,
    /// found by their tags (`<version tag>.rt-<digest prefix>`): each tag
    /// is written once by one writer, so unlike a shared index no
    /// concurrent write can lose one. Withdrawn ones (a `.rw-` tag beside)
    /// are marked.
    fn list_transitions(
        &self,
        client: &Client<'_>,
        repository: &str,
        version: &str,
        digest: &str,
        tags: Option<&[String]>,
    ) -> Result<Vec<ReleaseTransition>> {
        let fetched;
        let tags = match tags {
            Some(t) => t,
            None => {
                fetched = client.tags(repository)?;
                &fetched
            }
        };
        let prefix = format!("{}.rt-", version_tag(version));
        let mut out = Vec::new();
        for tag in tags.iter().filter(|t| t.starts_with(&prefix)) {
            let item = format!("{repository}:{tag}");
            let Some(bytes) = client.get_listed_manifest(
                repository,
                tag,
                OCI_MANIFEST_MEDIA_TYPE,
                MAX_DOCUMENT_BYTES,
            )?
            else {
                // Deleted since it was listed.
                continue;
            };
            let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&bytes) else {
                return Err(client.error(&item, "a release transition tag names something that is not an OCI manifest; delete the tag"));
            };
            if manifest
                .subject()
                .as_ref()
                .map(|d| d.digest().to_string())
                .as_deref()
                != Some(digest)
            {
                // A transition of content this number held before an
                // overwrite.
                continue;
            }
            let Some(mut t) = transition_of(&sha256(&bytes), manifest.annotations().as_ref())
            else {
                return Err(client.error(
                    &item,
                    "a release transition lacks its annotations; delete the tag",
                ));
            };
            let withdrawn = format!("{}.rw-{}", version_tag(version), tag_suffix(&t.digest));
            t.withdrawn = tags.contains(&withdrawn);
            out.push(t);
        }
        Ok(out)
    }

    /// Rewrites the referrers index of the tag schema (`sha256-<hex>`)
    /// from the transitions found by their tags, for tools that look for
    /// referrers there (on registries without the referrers API). A
    /// concurrent rewrite may drop an entry; the next write restores it.
    fn write_fallback_index(
        &self,
        client: &Client<'_>,
        repository: &str,
        digest: &str,
        all: &[ReleaseTransition],
    ) -> Result<()> {
        let tag = digest.replacen(':', "-", 1);
        let mut manifests = Vec::new();
        for t in all {
            let Some(size) = t.size else { continue };
            let mut d = descriptor(OCI_MANIFEST_MEDIA_TYPE, &t.digest, size)?;
            d.set_artifact_type(Some(MediaType::from(RELEASE_TRANSITION_ARTIFACT_TYPE)));
            d.set_annotations(Some(t.annotations().into_iter().collect()));
            manifests.push(d);
        }
        manifests.sort_by_key(|d| d.digest().to_string());
        let index = oci_spec::image::ImageIndexBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageIndex)
            .manifests(manifests)
            .build()
            .map_err(|e| {
                client.error(
                    &format!("{repository}:{tag}"),
                    format!("cannot build the referrers index: {e}"),
                )
            })?;
        let bytes = canonical_json(&index)?;
        client.put_manifest_bytes(
            repository,
            &tag,
            OCI_INDEX_MEDIA_TYPE,
            &bytes,
            &sha256(&bytes),
        )
    }
}

/// How an attempt to write a transition failed.
enum Attempt {
    /// For good.
    Failed(MarketError),
    /// Every writer withdrew; try again after the pause.
    NobodyWon(MarketError, Duration),
}

impl<E: Into<MarketError>> From<E> for Attempt {
    fn from(e: E) -> Self {
        Attempt::Failed(e.into())
    }
}

/// What a writer of a transition finds when it reads back.
enum Decision {
    /// No other transition from the same point counts.
    Done,
    /// Others do (described).
    Lost(Vec<String>),
}

/// The chain of transitions that count, from `initial`.
fn resolve_chain(initial: ReleaseState, all: &[ReleaseTransition]) -> Vec<ReleaseTransition> {
    let mut chain: Vec<ReleaseTransition> = Vec::new();
    let mut state = initial;
    loop {
        let previous = chain.last().map(|t| t.digest.clone());
        let next = all
            .iter()
            .filter(|t| !t.withdrawn && t.previous == previous && t.from == state)
            .filter(|t| t.sequence == chain.len() as u64 + 1)
            .filter(|t| state.next_states().contains(&t.to))
            .min_by(|a, b| (&a.created, &a.digest).cmp(&(&b.created, &b.digest)));
        match next {
            Some(t) => {
                state = t.to;
                chain.push(t.clone());
            }
            None => return chain,
        }
    }
}

fn transition_of(
    digest: &str,
    annotations: Option<&std::collections::HashMap<String, String>>,
) -> Option<ReleaseTransition> {
    let a = annotations?;
    let state = |k: &str| a.get(k).and_then(|v| v.parse::<ReleaseState>().ok());
    Some(ReleaseTransition {
        digest: digest.to_owned(),
        from: state(ANNOTATION_FROM)?,
        to: state(ANNOTATION_TO)?,
        sequence: a.get(ANNOTATION_SEQUENCE)?.parse().ok()?,
        previous: a.get(ANNOTATION_PREVIOUS).cloned(),
        created: a.get(ANNOTATION_CREATED).cloned().unwrap_or_default(),
        signer: a.get(ANNOTATION_SIGNER).cloned(),
        withdrawn: false,
        size: None,
    })
}

impl ReleaseTransition {
    /// The annotations its manifest carries.
    fn annotations(&self) -> BTreeMap<String, String> {
        let mut a = BTreeMap::new();
        a.insert(ANNOTATION_FROM.to_owned(), self.from.as_str().to_owned());
        a.insert(ANNOTATION_TO.to_owned(), self.to.as_str().to_owned());
        a.insert(ANNOTATION_SEQUENCE.to_owned(), self.sequence.to_string());
        if let Some(p) = &self.previous {
            a.insert(ANNOTATION_PREVIOUS.to_owned(), p.clone());
        }
        if let Some(s) = &self.signer {
            a.insert(ANNOTATION_SIGNER.to_owned(), s.clone());
        }
        a.insert(ANNOTATION_CREATED.to_owned(), self.created.clone());
        a
    }
}

/// The part of a digest used in tags: 32 hex digits (128 bits).
fn tag_suffix(digest: &str) -> &str {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    hex.get(..32).unwrap_or(hex)
}

/// The images a version names (components and plugins), sorted.
fn version_images(doc: &TemplateVersion) -> Vec<ImageRef> {
    let mut images: Vec<ImageRef> = doc
        .components
        .iter()
        .map(|c| &c.image)
        .chain(doc.plugins.iter().map(|p| &p.image))
        .filter_map(|r| {
            image_digest(r).map(|d| ImageRef {
                name: image_name(r).to_owned(),
                digest: d.to_owned(),
            })
        })
        .collect();
    images.sort();
    images.dedup();
    images
}

/// The tag of a version number (`+` is not allowed in tags).
fn version_tag(version: &str) -> String {
    version.replace('+', "_")
}

/// The version number of a tag.
fn tag_version(tag: &str) -> String {
    tag.replace('_', "+")
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Whether `s` is one component of a repository path.
fn is_path_component(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// A time as RFC 3339 in UTC, to the nanosecond (always nine digits, so
/// that texts sort as times do).
fn rfc3339(t: SystemTime) -> String {
    let at = time::OffsetDateTime::from(t);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:9]Z"
    );
    at.format(&format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(
        digest: &str,
        from: ReleaseState,
        to: ReleaseState,
        seq: u64,
        prev: Option<&str>,
        created: &str,
    ) -> ReleaseTransition {
        ReleaseTransition {
            digest: digest.to_owned(),
            from,
            to,
            sequence: seq,
            previous: prev.map(str::to_owned),
            created: created.to_owned(),
            signer: None,
            withdrawn: false,
            size: None,
        }
    }

    #[test]
    fn the_chain_follows_the_earliest_of_concurrent_transitions() {
        use ReleaseState::*;
        let all = vec![
            t(
                "sha256:b",
                Testing,
                Released,
                1,
                None,
                "2026-01-01T00:00:02Z",
            ),
            t("sha256:a", Testing, Draft, 1, None, "2026-01-01T00:00:01Z"),
            t(
                "sha256:c",
                Draft,
                Testing,
                2,
                Some("sha256:a"),
                "2026-01-01T00:00:03Z",
            ),
            // Follows the loser: not on the chain.
            t(
                "sha256:d",
                Released,
                Deprecated,
                2,
                Some("sha256:b"),
                "2026-01-01T00:00:04Z",
            ),
        ];
        let chain = resolve_chain(Testing, &all);
        let digests: Vec<&str> = chain.iter().map(|t| t.digest.as_str()).collect();
        assert_eq!(digests, ["sha256:a", "sha256:c"]);
        // A transition the life cycle forbids never counts.
        let bad = vec![t(
            "sha256:e",
            Draft,
            Released,
            1,
            None,
            "2026-01-01T00:00:01Z",
        )];
        assert!(resolve_chain(Draft, &bad).is_empty());
        // Nor does a withdrawn one.
        let mut withdrawn = t("sha256:a", Testing, Draft, 1, None, "2026-01-01T00:00:01Z");
        withdrawn.withdrawn = true;
        let all = vec![
            withdrawn,
            t(
                "sha256:b",
                Testing,
                Released,
                1,
                None,
                "2026-01-01T00:00:02Z",
            ),
        ];
        assert_eq!(resolve_chain(Testing, &all)[0].digest, "sha256:b");
    }

    #[test]
    fn tags_and_locations() {
        assert_eq!(version_tag("1.2.0+build.7"), "1.2.0_build.7");
        assert_eq!(tag_version("1.2.0_build.7"), "1.2.0+build.7");
        assert!(RegistryMarket::open("oci://127.0.0.1:5000", &[]).is_err());
        assert!(RegistryMarket::open("127.0.0.1:5000/vendor", &[]).is_err());
        assert!(RegistryMarket::open("oci://127.0.0.1:5000/Vendor", &[]).is_err());
        let access = RegistryAccess {
            insecure: true,
            ..RegistryAccess::new("127.0.0.1:5000")
        };
        let m = RegistryMarket::open("oci://127.0.0.1:5000/vendor/market/", &[access])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.location(), "oci://127.0.0.1:5000/vendor/market");
        assert_eq!(m.template_repository("pig"), "vendor/market/templates/pig");
        assert!(m.target().insecure);
    }
}
