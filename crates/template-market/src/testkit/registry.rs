//! A real OCI registry for tests: Debian's `docker-registry` (distribution
//! 2.8) started on 127.0.0.1 with a free port, storage in a temporary
//! folder, and killed (by its PID) when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `docker-registry` on 127.0.0.1.
#[derive(Debug)]
pub struct LocalRegistry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

/// What to add to the registry's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryConfig {
    /// Serve HTTPS with this certificate and key (PEM files).
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// The body of the `auth:` section, indented by two spaces
    /// (e.g. `  htpasswd:\n    realm: test\n    path: /x/htpasswd\n`);
    /// none means anonymous access.
    pub auth: Option<String>,
}

impl LocalRegistry {
    /// An anonymous plain-HTTP registry.
    pub fn start() -> std::io::Result<LocalRegistry> {
        LocalRegistry::start_with(&RegistryConfig::default())
    }

    /// A registry configured with `config`. Returns once it listens; fails
    /// with its log when it exits or does not listen within 30 seconds.
    pub fn start_with(config: &RegistryConfig) -> std::io::Result<LocalRegistry> {
        let dir = tempfile::tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        );
        if let Some((certificate, key)) = &config.tls {
            yaml.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                certificate.display(),
                key.display()
            ));
        }
        if let Some(auth) = &config.auth {
            yaml.push_str("auth:\n");
            yaml.push_str(auth);
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, yaml)?;
        let log = std::fs::File::create(dir.path().join("registry.log"))?;
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot start docker-registry ({e}); install Debian's docker-registry package (see .ci/setup)"),
                )
            })?;
        let mut registry = LocalRegistry { child, port, dir };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if registry.child.try_wait()?.is_some() {
                return Err(std::io::Error::other(format!(
                    "docker-registry exited: {}",
                    registry.log()
                )));
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other(format!(
                    "docker-registry did not listen on port {port} within 30 s: {}",
                    registry.log()
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(registry)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`, as a registry is named in profiles and targets.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its temporary folder (configuration, storage, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
