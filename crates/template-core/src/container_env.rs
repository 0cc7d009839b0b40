//! The environment a component's container runs with: its own variables
//! (customized values and config-group variables included), its own
//! connection info, and what its dependencies inject (their connection
//! info and the `<PORT>_HOST` / `<PORT>_PORT` address of each inner port).
//!
//! This is the one definition of what a component receives. The
//! Kubernetes adapter renders it into the container's `env`; plans compare
//! it before and after a change, so that a component whose dependency
//! changes what it provides is re-rendered even if its own definition did
//! not change.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::installed::{InstalledComponent, InstalledState, secret_reference};

/// Where a container variable's value comes from.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum EnvValue {
    /// A value written into the workload.
    Plain {
        /// The value.
        value: String,
    },
    /// A confidential fixed value, kept in the env Secret of `component`
    /// under `key` and referenced from the workload.
    ComponentSecret {
        /// Component whose env Secret holds the value.
        component: String,
        /// Key in that Secret.
        key: String,
        /// The value (masked by `Debug`).
        value: String,
    },
    /// A secret generated at install time, by reference (see
    /// [`secret_reference`]); its value lives only in the environment.
    Generated {
        /// The reference.
        reference: String,
    },
    /// The in-cluster address of `component` (the name of its Service).
    Address {
        /// The component addressed.
        component: String,
    },
}

impl fmt::Debug for EnvValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvValue::Plain { value } => f.debug_struct("Plain").field("value", value).finish(),
            EnvValue::ComponentSecret { component, key, .. } => f
                .debug_struct("ComponentSecret")
                .field("component", component)
                .field("key", key)
                .field("value", &crate::model::MASK)
                .finish(),
            EnvValue::Generated { reference } => f
                .debug_struct("Generated")
                .field("reference", reference)
                .finish(),
            EnvValue::Address { component } => f
                .debug_struct("Address")
                .field("component", component)
                .finish(),
        }
    }
}

impl EnvValue {
    /// Whether the value is confidential.
    pub fn is_secret(&self) -> bool {
        matches!(
            self,
            EnvValue::ComponentSecret { .. } | EnvValue::Generated { .. }
        )
    }
}

/// Who defines a container variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "component", rename_all = "snake_case")]
pub enum EnvOrigin {
    /// The component's own env (or a config group's).
    Own,
    /// The component's own connection info.
    OwnConnection,
    /// A dependency's connection info or address.
    Dependency(String),
}

/// One variable of a component's container.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContainerVar {
    /// Variable name.
    pub name: String,
    /// Where its value comes from.
    pub value: EnvValue,
    /// Who defines it.
    pub origin: EnvOrigin,
}

impl InstalledState {
    /// The environment of component `key`'s container, in the order it is
    /// rendered; none if `key` is not installed.
    ///
    /// When a name is defined twice the first definition in precedence
    /// order wins: the component's own env, then its own connection info,
    /// then each dependency (in `depends_on` order) with its connection
    /// info and the address of each inner port. Names are unique. The
    /// list is ordered dependencies first, own connection info next, own
    /// env last, so that own values can refer to injected ones with
    /// `$(NAME)`.
    pub fn container_env(&self, key: &str) -> Option<Vec<ContainerVar>> {
        let installed = self.components.get(key)?;
        Some(self.container_env_of(installed))
    }

    /// [`Self::container_env`] of `installed`, which need not be in the
    /// state (its dependencies are looked up in the state).
    pub fn container_env_of(&self, installed: &InstalledComponent) -> Vec<ContainerVar> {
        container_env_with(installed, |key| self.components.get(key))
    }
}

/// [`InstalledState::container_env_of`], with dependencies looked up by
/// `component` (key → installed component), so that a plan can ask about
/// a state it has not built.
pub(crate) fn container_env_with<'a>(
    installed: &'a InstalledComponent,
    component: impl Fn(&str) -> Option<&'a InstalledComponent>,
) -> Vec<ContainerVar> {
    let key = installed.spec.key.as_str();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut own = Vec::new();
    for var in installed
        .spec
        .env
        .iter()
        .chain(&installed.shared_env)
        .filter(|v| seen.insert(v.name.clone()))
    {
        let value = installed.env_value(&var.name).unwrap_or(var.value.as_str());
        let value = if var.secret {
            EnvValue::ComponentSecret {
                component: key.to_owned(),
                key: var.name.clone(),
                value: value.to_owned(),
            }
        } else {
            EnvValue::Plain {
                value: value.to_owned(),
            }
        };
        own.push(ContainerVar {
            name: var.name.clone(),
            value,
            origin: EnvOrigin::Own,
        });
    }
    let mut own_connection = Vec::new();
    let mut injected = Vec::new();
    let sources = std::iter::once(installed).chain(
        installed
            .spec
            .depends_on
            .iter()
            .filter_map(|d| component(d)),
    );
    for (n, source) in sources.enumerate() {
        let origin = if n == 0 {
            EnvOrigin::OwnConnection
        } else {
            EnvOrigin::Dependency(source.spec.key.clone())
        };
        let out = if n == 0 {
            &mut own_connection
        } else {
            &mut injected
        };
        for var in &source.spec.connection_info {
            if !seen.insert(var.name.clone()) {
                continue;
            }
            let value = if let Some(reference) = secret_reference(&source.spec.key, var) {
                EnvValue::Generated { reference }
            } else if var.secret {
                EnvValue::ComponentSecret {
                    component: source.spec.key.clone(),
                    key: var.name.clone(),
                    value: var.value.clone().unwrap_or_default(),
                }
            } else {
                EnvValue::Plain {
                    value: var.value.clone().unwrap_or_default(),
                }
            };
            out.push(ContainerVar {
                name: var.name.clone(),
                value,
                origin: origin.clone(),
            });
        }
        if n > 0 {
            for port in source.spec.ports.iter().filter(|p| p.inner) {
                let prefix = port.name.to_ascii_uppercase().replace('-', "_");
                let host = format!("{prefix}_HOST");
                if seen.insert(host.clone()) {
                    injected.push(ContainerVar {
                        name: host,
                        value: EnvValue::Address {
                            component: source.spec.key.clone(),
                        },
                        origin: origin.clone(),
                    });
                }
                let port_var = format!("{prefix}_PORT");
                if seen.insert(port_var.clone()) {
                    injected.push(ContainerVar {
                        name: port_var,
                        value: EnvValue::Plain {
                            value: port.port.to_string(),
                        },
                        origin: origin.clone(),
                    });
                }
            }
        }
    }
    injected.extend(own_connection);
    injected.extend(own);
    injected
}
