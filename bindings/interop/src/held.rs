//! A template version as a binding's `Template` object holds it.

use std::sync::{Arc, OnceLock};

use template_core::{TemplateVersion, ValidatedVersion};

/// One version document, validated at most once: a version read from a
/// market arrives validated, any other the first time it is planned or
/// checked; later plans reuse that (see [`ValidatedVersion`]). Changing
/// the document forgets the validation.
#[derive(Debug, Clone)]
pub struct HeldVersion {
    version: Arc<TemplateVersion>,
    validated: OnceLock<ValidatedVersion>,
}

impl HeldVersion {
    /// The document.
    pub fn version(&self) -> &TemplateVersion {
        &self.version
    }

    /// The document, validated: the first call validates, later calls
    /// return the same proof. A document with problems is refused with
    /// [`template_core::Error::Validation`] every time it is asked.
    pub fn validated(&self) -> template_core::Result<&ValidatedVersion> {
        if let Some(validated) = self.validated.get() {
            return Ok(validated);
        }
        let validated = ValidatedVersion::from_shared(self.version.clone())?;
        Ok(self.validated.get_or_init(|| validated))
    }

    /// The document, to change; its validation is forgotten.
    pub fn make_mut(&mut self) -> &mut TemplateVersion {
        self.validated = OnceLock::new();
        Arc::make_mut(&mut self.version)
    }
}

impl From<TemplateVersion> for HeldVersion {
    fn from(version: TemplateVersion) -> Self {
        HeldVersion {
            version: Arc::new(version),
            validated: OnceLock::new(),
        }
    }
}

impl From<ValidatedVersion> for HeldVersion {
    fn from(validated: ValidatedVersion) -> Self {
        HeldVersion {
            version: validated.shared().clone(),
            validated: OnceLock::from(validated),
        }
    }
}

impl std::ops::Deref for HeldVersion {
    type Target = TemplateVersion;
    fn deref(&self) -> &TemplateVersion {
        &self.version
    }
}

/// Two held versions are equal when their documents are.
impl PartialEq for HeldVersion {
    fn eq(&self, other: &Self) -> bool {
        self.version == other.version
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use template_core::testing::minimal_version;

    #[test]
    fn validates_once_and_forgets_on_change() {
        let mut held = HeldVersion::from(minimal_version("shop", "1.0.0"));
        let first: *const ValidatedVersion = held.validated().expect("valid");
        let again: *const ValidatedVersion = held.validated().expect("valid");
        assert_eq!(first, again, "the second call reuses the first proof");
        held.make_mut().components[0].image = "not an image".into();
        assert!(
            held.validated().is_err(),
            "a changed document is validated again"
        );
        assert!(held.validated().is_err(), "and refused every time");
    }

    #[test]
    fn a_validated_version_keeps_its_proof_and_document() {
        let checked = ValidatedVersion::new(minimal_version("shop", "1.0.0")).expect("valid");
        let held = HeldVersion::from(checked.clone());
        assert!(Arc::ptr_eq(
            held.validated().expect("valid").shared(),
            checked.shared()
        ));
        assert_eq!(held, HeldVersion::from(minimal_version("shop", "1.0.0")));
    }
}
