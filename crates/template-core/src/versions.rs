//! Version numbers, the release life cycle, and upgrade candidates.

use crate::error::{Error, Result};
use crate::model::{ReleaseState, TemplateVersion};

/// Parses a semantic version (`MAJOR.MINOR.PATCH[-pre][+build]`).
pub fn parse_version(text: &str) -> Result<semver::Version> {
    semver::Version::parse(text).map_err(|e| Error::InvalidVersion {
        value: text.to_owned(),
        message: e.to_string(),
    })
}

impl std::str::FromStr for ReleaseState {
    type Err = Error;

    /// A state by its name; anything else is [`Error::InvalidOption`]
    /// (option `state`) listing the names.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ReleaseState::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| Error::InvalidOption {
                option: "state".to_owned(),
                message: format!(
                    "`{name}` is not a release state; use draft, testing, released or deprecated"
                ),
            })
    }
}

impl TemplateVersion {
    /// The parsed semantic version, or an error naming the bad value.
    pub fn semver(&self) -> Result<semver::Version> {
        parse_version(&self.version)
    }
}

impl ReleaseState {
    /// States reachable from this one:
    ///
    /// ```text
    /// draft ⇄ testing → released ⇄ deprecated
    /// ```
    ///
    /// A released version can be deprecated and a deprecated one released
    /// again; nothing goes back to draft or testing once released, since
    /// environments may already run it.
    pub fn next_states(self) -> &'static [ReleaseState] {
        match self {
            ReleaseState::Draft => &[ReleaseState::Testing],
            ReleaseState::Testing => &[ReleaseState::Draft, ReleaseState::Released],
            ReleaseState::Released => &[ReleaseState::Deprecated],
            ReleaseState::Deprecated => &[ReleaseState::Released],
        }
    }

    /// Whether the content of a version in this state is frozen.
    pub fn is_frozen(self) -> bool {
        matches!(self, ReleaseState::Released | ReleaseState::Deprecated)
    }
}

/// Moves `version` to release state `to`, checking the life cycle. Setting
/// the state it already has is a no-op.
///
/// ```
/// # use template_core::{set_release_state, ReleaseState};
/// # let mut v = template_core::testing::minimal_version("demo", "1.0.0");
/// set_release_state(&mut v, ReleaseState::Testing).unwrap();
/// set_release_state(&mut v, ReleaseState::Released).unwrap();
/// assert!(set_release_state(&mut v, ReleaseState::Draft).is_err());
/// ```
pub fn set_release_state(version: &mut TemplateVersion, to: ReleaseState) -> Result<()> {
    let from = version.release_state;
    if from == to {
        return Ok(());
    }
    if !from.next_states().contains(&to) {
        let allowed = from
            .next_states()
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::InvalidTransition {
            template: version.template.id.clone(),
            version: version.version.clone(),
            from,
            to,
            allowed,
        });
    }
    version.release_state = to;
    Ok(())
}

/// Which versions [`upgrade_candidates`] offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CandidateFilter {
    /// Offer only released versions (what production environments accept).
    pub released_only: bool,
}

/// The versions of the same template newer than `installed`, oldest first.
/// Versions whose number does not parse are skipped; deprecated versions
/// are offered only when `released_only` is off.
pub fn upgrade_candidates<'a, I>(
    installed: &TemplateVersion,
    available: I,
    filter: CandidateFilter,
) -> Result<Vec<&'a TemplateVersion>>
where
    I: IntoIterator<Item = &'a TemplateVersion>,
{
    let current = installed.semver()?;
    let mut out: Vec<(semver::Version, &TemplateVersion)> = available
        .into_iter()
        .filter(|v| v.template.id == installed.template.id)
        .filter(|v| !filter.released_only || v.release_state == ReleaseState::Released)
        .filter_map(|v| v.semver().ok().map(|s| (s, v)))
        .filter(|(s, _)| *s > current)
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// Sorts versions by semantic version, oldest first; unparsable numbers go
/// last in text order.
pub fn sort_versions(versions: &mut [TemplateVersion]) {
    versions.sort_by(|a, b| match (a.semver(), b.semver()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => a.version.cmp(&b.version),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::minimal_version;

    #[test]
    fn life_cycle_transitions() {
        let mut v = minimal_version("demo", "1.0.0");
        assert!(set_release_state(&mut v, ReleaseState::Released).is_err());
        set_release_state(&mut v, ReleaseState::Testing).unwrap();
        set_release_state(&mut v, ReleaseState::Draft).unwrap();
        set_release_state(&mut v, ReleaseState::Testing).unwrap();
        set_release_state(&mut v, ReleaseState::Released).unwrap();
        let err = set_release_state(&mut v, ReleaseState::Testing).unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot go from released to testing; allowed from released: deprecated"),
            "{err}"
        );
        set_release_state(&mut v, ReleaseState::Deprecated).unwrap();
        set_release_state(&mut v, ReleaseState::Released).unwrap();
        assert_eq!(v.release_state, ReleaseState::Released);
    }

    #[test]
    fn candidates_are_newer_sorted_and_filtered() {
        let installed = minimal_version("pig", "1.2.0");
        let mut all = vec![];
        for (n, state) in [
            ("1.10.0", ReleaseState::Released),
            ("1.1.0", ReleaseState::Released),
            ("2.0.0-rc.1", ReleaseState::Testing),
            ("1.3.0", ReleaseState::Deprecated),
            ("1.2.0", ReleaseState::Released),
            ("1.9.0", ReleaseState::Released),
        ] {
            let mut v = minimal_version("pig", n);
            v.release_state = state;
            all.push(v);
        }
        all.push(minimal_version("other", "9.0.0"));
        let any: Vec<_> = upgrade_candidates(&installed, &all, CandidateFilter::default())
            .unwrap()
            .iter()
            .map(|v| v.version.as_str())
            .collect();
        assert_eq!(any, ["1.3.0", "1.9.0", "1.10.0", "2.0.0-rc.1"]);
        let released: Vec<_> = upgrade_candidates(
            &installed,
            &all,
            CandidateFilter {
                released_only: true,
            },
        )
        .unwrap()
        .iter()
        .map(|v| v.version.as_str())
        .collect();
        assert_eq!(released, ["1.9.0", "1.10.0"]);
    }

    #[test]
    fn sorting_is_semantic() {
        let mut vs: Vec<_> = ["1.10.0", "1.2.0", "bad", "1.2.0-alpha"]
            .iter()
            .map(|n| minimal_version("x", n))
            .collect();
        sort_versions(&mut vs);
        let order: Vec<_> = vs.iter().map(|v| v.version.as_str()).collect();
        assert_eq!(order, ["1.2.0-alpha", "1.2.0", "1.10.0", "bad"]);
    }
}
