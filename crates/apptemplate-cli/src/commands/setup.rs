//! `env`, `keys generate`, `doctor`: settings, keys and checks.

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use serde_json::json;

use crate::cli::{DoctorArgs, EnvCommand, KeysCommand};
use crate::commands::Context;
use crate::failure::code;
use crate::output::{Outcome, bytes, table};

pub(crate) fn env(run: &Context, command: EnvCommand) -> anyhow::Result<Outcome> {
    match command {
        EnvCommand::List => {
            let envs = &run.settings.file.environments;
            let text = table(
                &["name", "namespace", "context", "registry", "released only"],
                envs.iter().map(|e| {
                    vec![
                        e.name.clone(),
                        e.namespace.clone(),
                        e.context.clone().unwrap_or_else(|| "(current)".to_owned()),
                        e.registry.clone().unwrap_or_else(|| "-".to_owned()),
                        if e.released_only { "yes" } else { "no" }.to_owned(),
                    ]
                }),
            );
            Outcome::new(envs, text)
        }
        EnvCommand::Show { name } => {
            let env = run.settings.profile(&name)?;
            let text = serde_norway::to_string(env)?;
            Outcome::new(env, text)
        }
    }
}

pub(crate) fn keys(command: KeysCommand) -> anyhow::Result<Outcome> {
    match command {
        KeysCommand::Generate { prefix } => {
            let pair = template_market::generate_key_pair()?;
            let secret_path = prefix.with_extension("key");
            let public_path = prefix.with_extension("pub");
            for path in [&secret_path, &public_path] {
                if path.exists() {
                    return Err(crate::failure::Usage(format!(
                        "`{}` exists; choose another prefix or remove it (keys are never overwritten)",
                        path.display()
                    ))
                    .into());
                }
            }
            write_private(&secret_path, pair.secret.to_file_text()?.as_bytes())?;
            std::fs::write(&public_path, pair.public.to_file_text()?)
                .with_context(|| format!("writing `{}`", public_path.display()))?;
            let id = pair.public.key_id();
            Outcome::new(
                &json!({"key_id": id, "secret_key": secret_path.display().to_string(), "public_key": public_path.display().to_string()}),
                format!(
                    "key {id}: secret key {} (keep it private), public key {} (give it to importers)",
                    secret_path.display(),
                    public_path.display()
                ),
            )
        }
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating `{}`", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing `{}`", path.display()))?;
    Ok(())
}

/// One check of `doctor`.
#[derive(Debug, serde::Serialize)]
struct Check {
    check: String,
    ok: bool,
    detail: String,
}

pub(crate) fn doctor(run: &Context, args: &DoctorArgs) -> anyhow::Result<Outcome> {
    let mut checks = Vec::new();
    let dir = &run.settings.market_dir;
    let probe = if dir.exists() {
        dir.clone()
    } else {
        dir.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| std::path::PathBuf::from("."), ToOwned::to_owned)
    };
    match fs4::available_space(&probe) {
        Ok(free) => checks.push(Check {
            check: format!("free space at {}", probe.display()),
            ok: free > 1 << 30,
            detail: format!(
                "{} available{}",
                bytes(free),
                if free > 1 << 30 {
                    ""
                } else {
                    "; less than 1 GiB, imports of large packages will be refused"
                }
            ),
        }),
        Err(e) => checks.push(Check {
            check: format!("free space at {}", probe.display()),
            ok: false,
            detail: e.to_string(),
        }),
    }
    match template_market::Market::open(dir).and_then(|m| m.templates()) {
        Ok(t) => checks.push(Check {
            check: format!("market {}", dir.display()),
            ok: true,
            detail: format!("{} template(s)", t.len()),
        }),
        Err(e) => checks.push(Check {
            check: format!("market {}", dir.display()),
            ok: false,
            detail: e.to_string(),
        }),
    }
    if let Some(name) = &args.environment {
        let env = run.settings.profile(name)?.clone();
        let kubeconfig = run.settings.kubeconfig(args.kubeconfig.as_deref());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            match template_k8s::connect(&env, kubeconfig.as_deref()).await {
                Ok(client) => {
                    match client.apiserver_version().await {
                        Ok(v) => checks.push(Check {
                            check: format!("cluster of {name}"),
                            ok: true,
                            detail: format!("Kubernetes {}", v.git_version),
                        }),
                        Err(e) => checks.push(Check {
                            check: format!("cluster of {name}"),
                            ok: false,
                            detail: e.to_string(),
                        }),
                    }
                    let nodes: Api<Node> = Api::all(client);
                    match nodes.list(&ListParams::default()).await {
                        Ok(list) => {
                            let mut archs: Vec<String> = list
                                .items
                                .iter()
                                .filter_map(|n| {
                                    n.status
                                        .as_ref()
                                        .and_then(|s| s.node_info.as_ref())
                                        .map(|i| i.architecture.clone())
                                })
                                .collect();
                            archs.sort();
                            archs.dedup();
                            checks.push(Check {
                                check: format!("nodes of {name}"),
                                ok: !list.items.is_empty(),
                                detail: format!(
                                    "{} node(s), architectures: {}",
                                    list.items.len(),
                                    if archs.is_empty() {
                                        "-".to_owned()
                                    } else {
                                        archs.join(", ")
                                    }
                                ),
                            });
                        }
                        Err(e) => checks.push(Check {
                            check: format!("nodes of {name}"),
                            ok: false,
                            detail: e.to_string(),
                        }),
                    }
                }
                Err(e) => checks.push(Check {
                    check: format!("cluster of {name}"),
                    ok: false,
                    detail: e.to_string(),
                }),
            }
        });
        if let Some(registry) = &env.registry {
            checks.push(registry_check(
                run,
                &format!("registry of {name}"),
                registry,
            ));
        }
    }
    // The registries of the config file (pulls and pushes use them).
    for access in &run.settings.file.registries {
        let check = format!("registry {}", access.registry);
        if !checks
            .iter()
            .any(|c| c.detail.contains(&format!("//{}/", access.registry)))
        {
            checks.push(registry_check(run, &check, &access.registry));
        }
    }
    let failed = checks.iter().filter(|c| !c.ok).count();
    let text = table(
        &["check", "ok", "detail"],
        checks.iter().map(|c| {
            vec![
                c.check.clone(),
                if c.ok { "ok" } else { "FAIL" }.to_owned(),
                c.detail.clone(),
            ]
        }),
    );
    let outcome = Outcome::new(&checks, text)?;
    Ok(if failed > 0 {
        outcome.with_exit_code(code::ERROR)
    } else {
        outcome
    })
}

/// Whether `registry` answers with the access the settings give it.
fn registry_check(run: &Context, check: &str, registry: &str) -> Check {
    let detail = run
        .settings
        .registry_target(registry)
        .and_then(|target| {
            let answer = target.check(std::time::Duration::from_secs(10))?;
            Ok(format!(
                "{} answers over {}; authentication: {}{}",
                answer.url,
                if target.insecure {
                    "plain HTTP"
                } else {
                    "HTTPS"
                },
                answer.authentication,
                match (answer.authentication.as_str(), answer.credentials) {
                    ("none", _) => "",
                    (_, true) => " (credentials configured)",
                    (_, false) => {
                        " (no credentials configured: add them to auth.json or the config file)"
                    }
                }
            ))
        })
        .map_err(|e| e.to_string());
    Check {
        check: check.to_owned(),
        ok: detail.is_ok(),
        detail: detail.unwrap_or_else(|e| e),
    }
}
