//! Finding Service names in free text (env values, config files): every
//! DNS form a pod can use (`svc`, `svc.ns`, `svc.ns.svc`,
//! `svc.ns.svc.cluster.local`), with or without a port, alone or inside a
//! URL (`jdbc:mysql://db:3306/x`, `redis://:pw@cache:6379`).

use serde::{Deserialize, Serialize};

use super::Confidence;

/// A Service a host can name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceForm {
    /// Service name.
    pub service: String,
    /// Namespace of the Service.
    pub namespace: String,
    /// Port numbers of the Service (and the container ports they target).
    pub ports: Vec<u32>,
}

/// One place a text names a host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostMention {
    /// The Service named; none for a host that matches no Service.
    pub service: Option<String>,
    /// Host as written.
    pub host: String,
    /// Port written after the host.
    pub port: Option<u32>,
    /// Byte range of the host in the text.
    pub start: usize,
    /// End of that range (exclusive).
    pub end: usize,
    /// How sure it is that a host is meant.
    pub confidence: Confidence,
}

fn host_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// Every mention of a host in `text`: those naming one of `services`
/// (matched case-insensitively in every DNS form) and those that look like
/// another host (written with a port or inside a URL).
pub fn find_mentions(text: &str, services: &[ServiceForm]) -> Vec<HostMention> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let Some(c) = text[i..].chars().next() else {
            break;
        };
        if !host_char(c) {
            i += c.len_utf8();
            continue;
        }
        let start = i;
        let mut end = i;
        while end < text.len() && bytes[end].is_ascii() && host_char(bytes[end] as char) {
            end += 1;
        }
        i = end;
        // A trailing dot ends a sentence or an absolute name.
        let mut host_end = end;
        while host_end > start && bytes[host_end - 1] == b'.' {
            host_end -= 1;
        }
        let host = &text[start..host_end];
        if host.is_empty() || host.contains('_') || !host.chars().any(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        // `user:password@host`: the user is not a host.
        if text[host_end..]
            .split(['/', '?', '#', ' ', '\n', '\t'])
            .next()
            .is_some_and(|authority| authority.contains('@'))
        {
            continue;
        }
        let port = port_after(text, host_end);
        let before = &text[..start];
        let in_url = before.ends_with("://") || before.ends_with('@') || before.ends_with("//");
        let whole =
            text.trim() == host || port.is_some_and(|p| text.trim() == format!("{host}:{p}"));
        let lower = host.to_ascii_lowercase();
        let matched = services.iter().find(|s| names_service(&lower, s));
        match matched {
            Some(service) => {
                let qualified = lower.contains('.');
                let port_matches = port.is_some_and(|p| service.ports.contains(&p));
                let confidence = if qualified || port_matches || (in_url && port.is_none()) {
                    Confidence::High
                } else if whole || in_url || port.is_some() {
                    Confidence::Medium
                } else {
                    Confidence::Low
                };
                out.push(HostMention {
                    service: Some(service.service.clone()),
                    host: host.to_owned(),
                    port,
                    start,
                    end: host_end,
                    confidence,
                });
            }
            None => {
                let local = matches!(lower.as_str(), "localhost" | "0.0.0.0" | "127.0.0.1");
                if (in_url || port.is_some()) && !local && plausible_host(&lower) {
                    out.push(HostMention {
                        service: None,
                        host: host.to_owned(),
                        port,
                        start,
                        end: host_end,
                        confidence: if in_url {
                            Confidence::High
                        } else {
                            Confidence::Medium
                        },
                    });
                }
            }
        }
    }
    out
}

fn names_service(host: &str, service: &ServiceForm) -> bool {
    let s = service.service.to_ascii_lowercase();
    let ns = service.namespace.to_ascii_lowercase();
    host == s
        || host == format!("{s}.{ns}")
        || host == format!("{s}.{ns}.svc")
        || host == format!("{s}.{ns}.svc.cluster.local")
}

/// A port number right after `at` (`:3306`), if any.
fn port_after(text: &str, at: usize) -> Option<u32> {
    let rest = text.get(at..)?.strip_prefix(':')?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    digits.parse().ok().filter(|p| (1..=65535).contains(p))
}

/// A DNS name or IPv4 address, not a scheme like `jdbc` or a word in a
/// sentence.
fn plausible_host(host: &str) -> bool {
    host.len() <= 253
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn services() -> Vec<ServiceForm> {
        vec![
            ServiceForm {
                service: "db".into(),
                namespace: "shop".into(),
                ports: vec![5432],
            },
            ServiceForm {
                service: "cache".into(),
                namespace: "shop".into(),
                ports: vec![6379],
            },
        ]
    }

    fn named(text: &str) -> Vec<(Option<String>, Confidence)> {
        find_mentions(text, &services())
            .into_iter()
            .map(|m| (m.service, m.confidence))
            .collect()
    }

    #[test]
    fn every_dns_form_names_the_service() {
        for text in [
            "db.shop",
            "db.shop.svc",
            "db.shop.svc.cluster.local",
            "DB.Shop.svc.cluster.local.",
            "db:5432",
            "postgres://user:pw@db.shop.svc:5432/orders",
            "jdbc:postgresql://db:5432/orders?ssl=false",
        ] {
            assert_eq!(
                named(text),
                vec![(Some("db".into()), Confidence::High)],
                "{text}"
            );
        }
        assert_eq!(
            named("redis://:secret@cache:6379/0"),
            vec![(Some("cache".into()), Confidence::High)]
        );
    }

    #[test]
    fn bare_names_are_weaker_and_longer_words_do_not_match() {
        assert_eq!(named("db"), vec![(Some("db".into()), Confidence::Medium)]);
        assert_eq!(
            named("use the db please"),
            vec![(Some("db".into()), Confidence::Low)]
        );
        assert!(named("db-password orders_db dbx db.other").is_empty());
        assert!(named("db.shop.svc.cluster").is_empty());
    }

    #[test]
    fn other_hosts_are_found_only_with_a_port_or_in_a_url() {
        let found = find_mentions(
            "https://api.example.com/v1 mq.internal:5672 plain.words here localhost:8080",
            &services(),
        );
        let hosts: Vec<&str> = found.iter().map(|m| m.host.as_str()).collect();
        assert_eq!(hosts, vec!["api.example.com", "mq.internal"]);
        assert!(found.iter().all(|m| m.service.is_none()));
    }

    #[test]
    fn spans_point_at_the_host() {
        let text = "jdbc:mysql://db.shop.svc.cluster.local:5432/x";
        let m = &find_mentions(text, &services())[0];
        assert_eq!(&text[m.start..m.end], "db.shop.svc.cluster.local");
        assert_eq!(m.port, Some(5432));
    }

    proptest::proptest! {
        /// Whatever surrounds it, a Service written as a URL host is found,
        /// and the span covers exactly the host; no input panics.
        #[test]
        fn urls_are_found_in_any_text(
            prefix in "[ -~]{0,20}",
            suffix in "[/?#][ -~]{0,20}",
            form in 0usize..4,
            port in proptest::option::of(1u32..65535),
        ) {
            let host = ["db", "db.shop", "db.shop.svc", "db.shop.svc.cluster.local"][form];
            let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
            let text = format!("{prefix} x://{host}{port_text}{suffix}");
            let found = find_mentions(&text, &services());
            let at = prefix.len() + " x://".len();
            let m = found.iter().find(|m| m.start == at && m.service.as_deref() == Some("db"));
            proptest::prop_assert!(m.is_some(), "{text}");
            let m = m.unwrap();
            proptest::prop_assert_eq!(&text[m.start..m.end], host);
            proptest::prop_assert_eq!(m.port, port);
        }

        #[test]
        fn never_panics(text in "\\PC{0,80}") {
            let _ = find_mentions(&text, &services());
        }
    }
}
