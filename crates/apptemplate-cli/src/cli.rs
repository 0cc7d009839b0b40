//! The command line: every command, argument and environment variable.

use std::path::PathBuf;

use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes, shown at the end of `--help`.
const EXIT_CODES: &str = "\
Exit codes:
  0    success
  1    error (the message says what failed, where, and what to do)
  2    usage error (unknown command, missing or bad argument)
  3    changes pending (`diff` or `plan` with --exit-code)
  4    verification or signature failure (tampered package, untrusted key, damaged market)
  5    partial success (`deliver` with at least one failed environment)
  130  interrupted (Ctrl-C); nothing half-written, run the command again to resume

Settings: flags > APPTEMPLATE_* environment variables > config file
(--config, default ~/.config/apptemplate/config.yaml) > defaults.
Registry credentials come from auth.json / Docker config files only.";

/// Versioned application templates: markets, offline packages and
/// deliveries to Kubernetes.
#[derive(Debug, Parser)]
#[command(name = "apptemplate", version, after_long_help = EXIT_CODES, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// Config file (YAML): market, kubeconfig, environments, registries, trusted keys.
    #[arg(long, global = true, env = "APPTEMPLATE_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Directory of the local market [default: from the config file, else ./market].
    #[arg(long, global = true, env = "APPTEMPLATE_MARKET", value_name = "DIR")]
    pub(crate) market: Option<PathBuf>,
    /// Result format on stdout: `plain` for people, `json` for one versioned document.
    #[arg(short, long, global = true, env = "APPTEMPLATE_OUTPUT", value_enum, default_value_t = OutputFormat::Plain)]
    pub(crate) output: OutputFormat,
    /// Progress on stderr: bars on a terminal, a line every few seconds
    /// otherwise (auto), or as asked; json writes one event per line.
    #[arg(long, global = true, env = "APPTEMPLATE_PROGRESS", value_enum, default_value_t = ProgressMode::Auto)]
    pub(crate) progress: ProgressMode,
    /// Seconds between progress lines when not on a terminal.
    #[arg(
        long,
        global = true,
        env = "APPTEMPLATE_PROGRESS_INTERVAL",
        value_name = "SECONDS",
        default_value_t = 5
    )]
    pub(crate) progress_interval: u64,
    /// Name written on an installation's lock while an operation runs
    /// (default: the config file's, else `USER@HOSTNAME`).
    #[arg(
        long,
        global = true,
        env = "APPTEMPLATE_IDENTITY",
        value_name = "NAME",
        help = "Name written on an installation's lock while an operation runs [default: config file, else USER@HOSTNAME]"
    )]
    pub(crate) identity: Option<String>,
    /// Print the chain of causes with errors.
    #[arg(short, long, global = true, env = "APPTEMPLATE_VERBOSE")]
    pub(crate) verbose: bool,
}

/// Result formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Tables and sentences.
    Plain,
    /// One JSON document: `{"apptemplate": 1, "command": ..., "result": ...}`.
    Json,
}

/// Progress display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ProgressMode {
    /// Bars on a terminal, lines otherwise; none with TERM=dumb lines.
    Auto,
    /// Live bars (needs a terminal).
    Bars,
    /// A plain line every few seconds.
    Lines,
    /// One JSON event per line (the library's progress data).
    Json,
    /// Nothing.
    None,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Offline packages: export, import, inspect, verify.
    #[command(subcommand)]
    Package(PackageCommand),
    /// The local market: list, show, publish, release, images, gc.
    #[command(subcommand)]
    Market(MarketCommand),
    /// Images of the market: push (relocate) to a registry, pull from one.
    #[command(subcommand)]
    Images(ImagesCommand),
    /// A market on an OCI registry (`oci://host[:port]/namespace`), shared by every machine that reaches it.
    #[command(subcommand)]
    Remote(RemoteCommand),
    /// Make a draft template from an application running on a cluster, or publish it (--publish).
    Capture(CaptureArgs),
    /// What changes between two versions of a template in the market.
    Diff(DiffArgs),
    /// Plan an install or upgrade against an environment and write the plan file.
    Plan(PlanArgs),
    /// Install a version into an environment.
    Install(InstallArgs),
    /// Upgrade an installation, keeping the customer's changes.
    Upgrade(UpgradeArgs),
    /// Roll an installation back to the state before a revision.
    Rollback(RollbackArgs),
    /// The revisions of an installation.
    History(InstallationArgs),
    /// What is installed in an environment.
    Status(InstallationArgs),
    /// Take one version to several environments.
    Deliver(DeliverArgs),
    /// Environment profiles from the config file.
    #[command(subcommand)]
    Env(EnvCommand),
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check free space, registries and clusters before a delivery.
    Doctor(DoctorArgs),
    /// Shell completion script on stdout.
    Completion(CompletionArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum RemoteCommand {
    /// Publish a version of the local market to the registry market, with its images.
    Push {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
        #[command(flatten)]
        at: RemoteLocation,
        /// Replace an unreleased version there that has other content.
        #[arg(long)]
        overwrite: bool,
    },
    /// Templates and versions in the registry market.
    List {
        #[command(flatten)]
        at: RemoteLocation,
    },
    /// The versions of a template there, with their release states.
    Show {
        /// Template id.
        template: String,
        #[command(flatten)]
        at: RemoteLocation,
    },
    /// Move a version there along its life cycle (a signed, timestamped transition).
    Release {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
        /// State to move to.
        #[arg(long, value_enum, default_value_t = StateArg::Released)]
        state: StateArg,
        #[command(flatten)]
        at: RemoteLocation,
        /// Sign the transition with this secret key file (from `keys generate`).
        #[arg(long, env = "APPTEMPLATE_SIGNING_KEY", value_name = "FILE")]
        sign_key: Option<PathBuf>,
    },
    /// Copy a version and its images into the local market (to export or install it here).
    Fetch {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
        #[command(flatten)]
        at: RemoteLocation,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RemoteLocation {
    /// The registry market, `oci://host[:port]/namespace`; access settings per registry from the config file.
    #[arg(
        long = "remote",
        env = "APPTEMPLATE_REMOTE",
        value_name = "oci://HOST/NAMESPACE"
    )]
    pub(crate) location: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum PackageCommand {
    /// Write a package of versions of a template (signed, full or differential).
    Export(ExportArgs),
    /// Verify a package and add its versions to the market.
    Import(ImportArgs),
    /// What a package carries (reads and verifies it whole).
    Inspect(InspectArgs),
    /// Verify a package's integrity and signature without importing it.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Template id.
    pub(crate) template: String,
    /// Version numbers to include.
    #[arg(required = true)]
    pub(crate) versions: Vec<String>,
    /// Package file to write.
    #[arg(short = 'f', long, value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Sign with this secret key file (from `keys generate`).
    #[arg(long, env = "APPTEMPLATE_SIGNING_KEY", value_name = "FILE")]
    pub(crate) sign_key: Option<PathBuf>,
    /// Leave out what the destination's inventory (from `market inventory`) lists.
    #[arg(long, value_name = "FILE", conflicts_with = "base_version")]
    pub(crate) base_inventory: Option<PathBuf>,
    /// Leave out what these versions (which the destination has) use.
    #[arg(long, value_name = "VERSION")]
    pub(crate) base_version: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct TrustArgs {
    /// Trust packages signed by this public key file (added to the config file's keys).
    #[arg(long, value_name = "FILE")]
    pub(crate) trust_key: Vec<PathBuf>,
    /// Accept packages without a signature.
    #[arg(long)]
    pub(crate) allow_unsigned: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// Package file.
    pub(crate) file: PathBuf,
    #[command(flatten)]
    pub(crate) trust: TrustArgs,
}

#[derive(Debug, Args)]
pub(crate) struct InspectArgs {
    /// Package file.
    pub(crate) file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Package file.
    pub(crate) file: PathBuf,
    #[command(flatten)]
    pub(crate) trust: TrustArgs,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MarketCommand {
    /// Templates and their versions.
    List,
    /// The versions of a template, or one version's components.
    Show {
        /// Template id.
        template: String,
        /// Version number.
        version: Option<String>,
    },
    /// Publish a version document with its images.
    Publish(PublishArgs),
    /// Move a version along its life cycle (testing, released, deprecated).
    Release {
        /// Template id.
        template: String,
        /// Version number.
        version: String,
        /// State to move to.
        #[arg(long, value_enum, default_value_t = StateArg::Released)]
        state: StateArg,
    },
    /// Images the market holds.
    Images,
    /// Remove blobs no version uses.
    Gc,
    /// Hash every blob and check every reference.
    Verify,
    /// Write the market's inventory (for differential exports elsewhere).
    Inventory {
        /// File to write.
        #[arg(short = 'f', long, value_name = "FILE")]
        file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum StateArg {
    /// Under test.
    Testing,
    /// Installable in production.
    Released,
    /// No longer offered.
    Deprecated,
}

impl From<StateArg> for template_core::ReleaseState {
    fn from(state: StateArg) -> Self {
        match state {
            StateArg::Testing => template_core::ReleaseState::Testing,
            StateArg::Released => template_core::ReleaseState::Released,
            StateArg::Deprecated => template_core::ReleaseState::Deprecated,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// Version document (YAML or JSON).
    pub(crate) document: PathBuf,
    /// Add the images of this OCI layout directory first.
    #[arg(long, value_name = "DIR")]
    pub(crate) images: Vec<PathBuf>,
    /// Add the images of this `docker save` tarball first.
    #[arg(long, value_name = "FILE")]
    pub(crate) docker_archive: Vec<PathBuf>,
    /// Add this logo file first (the document names its digest).
    #[arg(long, value_name = "FILE")]
    pub(crate) logo: Option<PathBuf>,
    /// Replace draft or testing content published under the same number.
    #[arg(long)]
    pub(crate) overwrite: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImagesCommand {
    /// Push a version's images to a registry, skipping what it has.
    Push(PushArgs),
    /// Pull images from their registries into the market, skipping what it has.
    Pull(PullArgs),
}

#[derive(Debug, Args)]
pub(crate) struct PullArgs {
    /// Images (`host[:port]/repository[:tag][@sha256:…]`); access settings per registry from the config file.
    #[arg(required = true)]
    pub(crate) images: Vec<String>,
    /// Keep only these platforms of a multi-platform image (`linux/arm64`, or `arm64`); repeat [default: config file, else every platform].
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub(crate) platforms: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CaptureArgs {
    #[command(flatten)]
    pub(crate) target: Target,
    /// Label selector narrowing the workloads (e.g. `app.kubernetes.io/instance=shop`).
    #[arg(short = 'l', long)]
    pub(crate) selector: Option<String>,
    /// Template id [default: the workloads' `app.kubernetes.io/instance` label, else the namespace].
    #[arg(long)]
    pub(crate) template: Option<String>,
    /// Display name [default: the template id, or the market's newest version's when publishing].
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Version number [default: 0.1.0, or when publishing the next minor version after the market's newest].
    #[arg(long = "version", value_name = "VERSION")]
    pub(crate) version: Option<String>,
    /// Turn these secret variables into secrets generated at install (name or `secret/key`, `*` wildcards); repeat.
    #[arg(long = "generate-secret", value_name = "PATTERN")]
    pub(crate) generate_secrets: Vec<String>,
    /// Copy the value of this `secret/key` into the template; repeat. Nothing else is copied.
    #[arg(long = "copy-secret", value_name = "SECRET/KEY")]
    pub(crate) copy_secrets: Vec<String>,
    /// Write the draft template (YAML) to this file.
    #[arg(long, value_name = "FILE", conflicts_with = "publish")]
    pub(crate) draft: Option<PathBuf>,
    /// Pull the images into the market and publish the draft (nothing when the application equals the market's newest version).
    #[arg(long)]
    pub(crate) publish: bool,
    /// With --publish: keep every platform of multi-platform images instead of the cluster nodes' [default: the nodes' platforms].
    #[arg(long, requires = "publish")]
    pub(crate) all_platforms: bool,
    /// With --publish: replace a draft or testing version of the same number.
    #[arg(long, requires = "publish")]
    pub(crate) overwrite: bool,
}

#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// Template id.
    pub(crate) template: String,
    /// Version number.
    pub(crate) version: String,
    /// Registry (`host[:port][/prefix]`); access settings from the config file.
    #[arg(long, env = "APPTEMPLATE_REGISTRY")]
    pub(crate) registry: String,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// Template id.
    pub(crate) template: String,
    /// Version from.
    pub(crate) from: String,
    /// Version to.
    pub(crate) to: String,
    /// Exit with 3 when the versions differ.
    #[arg(long)]
    pub(crate) exit_code: bool,
}

/// Where an installation lives.
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// Environment profile from the config file.
    #[arg(short, long = "env", env = "APPTEMPLATE_ENV", value_name = "NAME")]
    pub(crate) environment: Option<String>,
    /// Namespace (an ad-hoc environment when no profile is named).
    #[arg(short, long, env = "APPTEMPLATE_NAMESPACE")]
    pub(crate) namespace: Option<String>,
    /// kubeconfig file [default: config file, else $KUBECONFIG or ~/.kube/config].
    #[arg(long, env = "APPTEMPLATE_KUBECONFIG", value_name = "FILE")]
    pub(crate) kubeconfig: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ModuleArgs {
    /// Select an optional module.
    #[arg(long = "with", value_name = "MODULE")]
    pub(crate) with: Vec<String>,
    /// Leave a module out.
    #[arg(long = "without", value_name = "MODULE")]
    pub(crate) without: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Template id.
    pub(crate) template: String,
    /// Version to install or upgrade to.
    pub(crate) version: String,
    #[command(flatten)]
    pub(crate) target: Target,
    #[command(flatten)]
    pub(crate) modules: ModuleArgs,
    /// Plan file to write.
    #[arg(short = 'f', long, value_name = "FILE")]
    pub(crate) file: Option<PathBuf>,
    /// Exit with 3 when the plan changes anything.
    #[arg(long)]
    pub(crate) exit_code: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Template id (taken from the plan file when given).
    pub(crate) template: Option<String>,
    /// Version to install (taken from the plan file when given).
    pub(crate) version: Option<String>,
    #[command(flatten)]
    pub(crate) target: Target,
    #[command(flatten)]
    pub(crate) modules: ModuleArgs,
    /// Apply exactly this plan file (from `plan`); refused if the market changed since.
    #[arg(long, value_name = "FILE")]
    pub(crate) plan: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct UpgradeArgs {
    /// Template id (taken from the plan file when given).
    pub(crate) template: Option<String>,
    /// Version to upgrade to (taken from the plan file when given).
    pub(crate) version: Option<String>,
    #[command(flatten)]
    pub(crate) target: Target,
    /// Apply exactly this plan file (from `plan`); refused if the cluster or market changed since.
    #[arg(long, value_name = "FILE")]
    pub(crate) plan: Option<PathBuf>,
    /// Do not ask for confirmation (needed when not on a terminal without --plan).
    #[arg(short, long)]
    pub(crate) yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// Template id.
    pub(crate) template: String,
    #[command(flatten)]
    pub(crate) target: Target,
    /// Undo this revision [default: the latest].
    #[arg(long)]
    pub(crate) revision: Option<u32>,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub(crate) yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct InstallationArgs {
    /// Template id.
    pub(crate) template: String,
    #[command(flatten)]
    pub(crate) target: Target,
}

#[derive(Debug, Args)]
pub(crate) struct DeliverArgs {
    /// Template id.
    pub(crate) template: String,
    /// Version to deliver.
    pub(crate) version: String,
    /// Environment profiles (repeat, or comma-separated); every one of the config file if none.
    #[arg(short, long = "env", value_delimiter = ',', value_name = "NAME")]
    pub(crate) environments: Vec<String>,
    /// Environments worked on at once (1: one after another).
    #[arg(long, value_name = "N", default_value_t = template_delivery::DEFAULT_ENVIRONMENTS_AT_ONCE,
          value_parser = clap::value_parser!(u16).range(1..).map(usize::from))]
    pub(crate) at_once: usize,
    /// kubeconfig file [default: config file, else $KUBECONFIG or ~/.kube/config].
    #[arg(long, env = "APPTEMPLATE_KUBECONFIG", value_name = "FILE")]
    pub(crate) kubeconfig: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum EnvCommand {
    /// Every environment profile.
    List,
    /// One environment profile.
    Show {
        /// Profile name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Create a signing key pair: PREFIX.key (secret) and PREFIX.pub (public).
    Generate {
        /// Path prefix of the two files.
        prefix: PathBuf,
    },
}

#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Also check this environment's cluster and registry.
    #[arg(short, long = "env", env = "APPTEMPLATE_ENV", value_name = "NAME")]
    pub(crate) environment: Option<String>,
    /// kubeconfig file [default: config file, else $KUBECONFIG or ~/.kube/config].
    #[arg(long, env = "APPTEMPLATE_KUBECONFIG", value_name = "FILE")]
    pub(crate) kubeconfig: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionArgs {
    /// Shell.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}
