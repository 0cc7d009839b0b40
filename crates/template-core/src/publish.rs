//! Publishing rules and incremental publishing.
//!
//! A market (see the market crate) stores versions; these functions decide,
//! without touching storage, whether a publish may happen and build the
//! document of an incremental publish.

use serde::{Deserialize, Serialize};

use crate::document::content_digest;
use crate::error::{Error, Result};
use crate::model::{Component, ConfigGroup, Module, Plugin, ReleaseState, TemplateVersion};
use crate::validate::ensure_valid;

/// How a publish treats a version number that already exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Overwrite {
    /// Refuse when the number exists with different content (the default).
    #[default]
    Refuse,
    /// Replace draft or testing content; released content is never replaced.
    Allow,
}

/// What a publish did or would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PublishOutcome {
    /// A new version number.
    Created {
        /// Content digest of the new version.
        digest: String,
    },
    /// The same content was already published under this number: nothing
    /// to do.
    Unchanged {
        /// Content digest shared by both.
        digest: String,
    },
    /// Draft or testing content replaced because overwrite was asked.
    Replaced {
        /// Digest of the content that was replaced.
        previous: String,
        /// Digest of the new content.
        digest: String,
    },
}

/// Decides whether `candidate` may be published when `existing` is what the
/// market holds under the same template id and version number (if any).
///
/// The candidate must be valid and in draft or testing state; an existing
/// number is refused unless the content is identical (no-op) or overwrite is
/// allowed and the existing version is not released.
pub fn check_publish(
    existing: Option<&TemplateVersion>,
    candidate: &TemplateVersion,
    overwrite: Overwrite,
) -> Result<PublishOutcome> {
    ensure_valid(candidate)?;
    let digest = content_digest(candidate)?;
    let Some(existing) = existing else {
        if candidate.release_state.is_frozen() {
            return Err(Error::PublishState {
                template: candidate.template.id.clone(),
                version: candidate.version.clone(),
                state: candidate.release_state,
            });
        }
        return Ok(PublishOutcome::Created { digest });
    };
    if existing.template.id != candidate.template.id {
        return Err(Error::TemplateMismatch {
            expected: existing.template.id.clone(),
            found: candidate.template.id.clone(),
        });
    }
    let previous = content_digest(existing)?;
    if previous == digest {
        return Ok(PublishOutcome::Unchanged { digest });
    }
    if existing.release_state.is_frozen() {
        return Err(Error::ReleasedImmutable {
            template: existing.template.id.clone(),
            version: existing.version.clone(),
            state: existing.release_state,
        });
    }
    match overwrite {
        Overwrite::Refuse => Err(Error::VersionExists {
            template: existing.template.id.clone(),
            version: existing.version.clone(),
            existing: previous,
            candidate: digest,
        }),
        Overwrite::Allow => {
            if candidate.release_state.is_frozen() {
                return Err(Error::PublishState {
                    template: candidate.template.id.clone(),
                    version: candidate.version.clone(),
                    state: candidate.release_state,
                });
            }
            Ok(PublishOutcome::Replaced { previous, digest })
        }
    }
}

/// An incremental publish: a new version number and only what changed.
/// Read from data, absent fields are empty (an empty `version` is then
/// refused by [`build_incremental`]) and unknown fields are refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct IncrementalChange {
    /// The new version number; must be newer than the base.
    pub version: String,
    /// Alias of the new version; the base's alias is not carried over.
    pub alias: Option<String>,
    /// Release notes of the new version.
    pub release_notes: String,
    /// Creation time (RFC 3339), supplied by the caller.
    pub created_at: Option<String>,
    /// Components that replace the base's component of the same key, or are
    /// added when the key is new.
    pub components: Vec<Component>,
    /// Plugins replaced or added, by key.
    pub plugins: Vec<Plugin>,
    /// Modules replaced or added, by key.
    pub modules: Vec<Module>,
    /// Config groups replaced or added, by name (e.g. to share a group's
    /// variables with a new component).
    pub config_groups: Vec<ConfigGroup>,
}

/// What an incremental publish took from where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IncrementalSummary {
    /// Keys of base components replaced by new definitions.
    pub replaced: Vec<String>,
    /// Keys of components new in this version.
    pub added: Vec<String>,
    /// Keys of components carried over from the base unchanged.
    pub carried_over: Vec<String>,
}

/// Builds a new version from `base`: the chosen components are replaced or
/// added, every other component is carried over unchanged. The new version
/// starts as a draft and must validate.
pub fn build_incremental(
    base: &TemplateVersion,
    change: IncrementalChange,
) -> Result<(TemplateVersion, IncrementalSummary)> {
    let base_number = base.semver()?;
    let new_number = crate::versions::parse_version(&change.version)?;
    if new_number <= base_number {
        return Err(Error::VersionNotNewer {
            base: base.version.clone(),
            new: change.version,
        });
    }
    let mut next = base.clone();
    next.version = change.version;
    next.alias = change.alias;
    next.release_notes = change.release_notes;
    next.created_at = change.created_at;
    next.release_state = ReleaseState::Draft;

    let mut summary = IncrementalSummary::default();
    let changed: Vec<String> = change.components.iter().map(|c| c.key.clone()).collect();
    for component in change.components {
        match next.components.iter_mut().find(|c| c.key == component.key) {
            Some(slot) => {
                summary.replaced.push(component.key.clone());
                *slot = component;
            }
            None => {
                summary.added.push(component.key.clone());
                next.components.push(component);
            }
        }
    }
    summary.carried_over = base
        .components
        .iter()
        .map(|c| c.key.clone())
        .filter(|k| !changed.contains(k))
        .collect();
    for plugin in change.plugins {
        match next.plugins.iter_mut().find(|p| p.key == plugin.key) {
            Some(slot) => *slot = plugin,
            None => next.plugins.push(plugin),
        }
    }
    for module in change.modules {
        match next.modules.iter_mut().find(|m| m.key == module.key) {
            Some(slot) => *slot = module,
            None => next.modules.push(module),
        }
    }
    for group in change.config_groups {
        match next.config_groups.iter_mut().find(|g| g.name == group.name) {
            Some(slot) => *slot = group,
            None => next.config_groups.push(group),
        }
    }
    ensure_valid(&next)?;
    Ok((next, summary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{minimal_component, minimal_version};

    #[test]
    fn publish_rules() {
        let v1 = minimal_version("demo", "1.0.0");
        assert!(matches!(
            check_publish(None, &v1, Overwrite::Refuse),
            Ok(PublishOutcome::Created { .. })
        ));

        let mut same = v1.clone();
        same.created_at = Some("2030-01-01T00:00:00Z".into());
        assert!(matches!(
            check_publish(Some(&v1), &same, Overwrite::Refuse),
            Ok(PublishOutcome::Unchanged { .. })
        ));

        let mut changed = v1.clone();
        changed.release_notes = "different".into();
        let err = check_publish(Some(&v1), &changed, Overwrite::Refuse).unwrap_err();
        assert!(matches!(err, Error::VersionExists { .. }), "{err}");
        assert!(matches!(
            check_publish(Some(&v1), &changed, Overwrite::Allow),
            Ok(PublishOutcome::Replaced { .. })
        ));

        let mut released = v1.clone();
        released.release_state = ReleaseState::Released;
        let err = check_publish(Some(&released), &changed, Overwrite::Allow).unwrap_err();
        assert!(matches!(err, Error::ReleasedImmutable { .. }), "{err}");
        let err = check_publish(None, &released, Overwrite::Refuse).unwrap_err();
        assert!(matches!(err, Error::PublishState { .. }), "{err}");
    }

    #[test]
    fn invalid_candidate_is_refused_with_problems() {
        let mut v = minimal_version("demo", "1.0.0");
        v.components[0].image = "nginx:latest".into();
        let err = check_publish(None, &v, Overwrite::Refuse).unwrap_err();
        let Error::Validation { problems } = err else {
            panic!("expected validation error")
        };
        assert_eq!(problems[0].path, "components[web].image");
    }

    #[test]
    fn incremental_replaces_adds_and_carries() {
        let mut base = minimal_version("demo", "1.0.0");
        base.components.push(minimal_component("api"));
        let mut web = minimal_component("web");
        web.name = "Web v2".into();
        let change = IncrementalChange {
            version: "1.1.0".into(),
            components: vec![web, minimal_component("worker")],
            ..Default::default()
        };
        let (next, summary) = build_incremental(&base, change).unwrap();
        assert_eq!(summary.replaced, ["web"]);
        assert_eq!(summary.added, ["worker"]);
        assert_eq!(summary.carried_over, ["api"]);
        assert_eq!(next.component("web").unwrap().name, "Web v2");
        assert_eq!(next.component("api"), base.component("api"));
        assert_eq!(next.components.len(), 3);

        let stale = IncrementalChange {
            version: "1.0.0".into(),
            ..Default::default()
        };
        assert!(matches!(
            build_incremental(&base, stale),
            Err(Error::VersionNotNewer { .. })
        ));
    }
}
