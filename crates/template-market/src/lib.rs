//! # template-market
//!
//! The local market: application templates, their versions and the images
//! they use, kept on the filesystem as one OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/…`), and the offline packages that carry
//! them across an air gap.
//!
//! - add images from an OCI layout directory ([`Market::add_oci_layout`]) or
//!   a `docker save` tarball ([`Market::add_docker_archive`]);
//! - publish versions with the rules of [`template_core::check_publish`],
//!   list them, move them through their release states;
//! - export full or differential packages (against base versions, layer by
//!   layer, or against an [`Inventory`](template_core::package::Inventory)
//!   of the destination market), signed with minisign, optionally split
//!   into parts;
//! - import packages atomically and idempotently, with the checks of
//!   [`template_core::package::PackageReader`];
//! - delete versions and collect garbage;
//! - relocate images to a registry over the OCI distribution API
//!   ([`Market::relocate_images`], [`Market::relocate_version`]);
//! - pull images from a registry into the market ([`Market::pull`]).
//!
//! Every mutation takes an exclusive lock on `<market>/.lock`; exports and
//! reads take a shared one. Blobs are immutable files named by digest and
//! written via temporary file + `fsync` + rename; the catalog
//! (`index.json`) is replaced atomically and last, so a process killed at
//! any point leaves the market valid.
//!
//! With the `testkit` feature (tests, benches and examples only):
//!
//! ```
//! use template_market::{Market, testkit};
//! let dir = tempfile::tempdir()?;
//! let market = Market::open(dir.path().join("market"))?;
//! let (v1, _) = testkit::publish_pig(&market, "1.0.0")?;
//! assert_eq!(market.versions("pig")?[0].version, v1.version);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod catalog;
mod error;
mod export;
mod images;
mod import;
mod market;
mod options;
mod parts;
mod progress;
mod pull;
mod read_ahead;
mod registry;
mod registry_market;
mod relocate;
mod ser;
mod signing;
mod store;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use catalog::ImageRef;
pub use error::{MarketError, Result};
pub use export::{ExportBase, ExportReport, ExportRequest};
pub use import::{ImportReport, ImportedVersion, PackageCheck, check_package};
pub use market::{GcReport, Market, MarketOptions, TemplateSummary, VerifyReport, VersionSummary};
pub use options::{CompressionName, ExportOptions, ImportOptions, RegistryAccess, Trust};
pub use parts::{PartWriter, PartsReader, part_paths};
pub use progress::{Phase, Progress, ProgressCallback};
pub use pull::{PullCallback, PullEvent, PullOptions, PullProgress, PullReport, PulledImage};
pub use registry::{RegistryCheck, RegistryTarget};
pub use registry_market::{
    FetchReport, RELEASE_TRANSITION_ARTIFACT_TYPE, RegistryMarket, RegistryPublishReport,
    ReleaseTransition,
};
pub use relocate::{
    RelocateCallback, RelocateEvent, RelocateOptions, RelocateProgress, RelocateReport,
    RelocationCounts,
};
pub use signing::{KeyPair, KeyPairText, PublicKey, SecretKey, generate_key_pair};
pub use template_core::package::{Compression, ReaderLimits};
