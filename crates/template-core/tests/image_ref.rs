//! The hand-written image reference check agrees with oci-spec's
//! regex-based parser on every string: same acceptance, same tag and
//! digest, same reason for a rejection. Strings come from the reference
//! grammar (valid ones, with tags, digests and names near the length
//! limits) and from random edits of those (mostly invalid ones).

use std::str::FromStr;

use oci_spec::distribution::{ParseError, Reference};
use proptest::prelude::*;
use template_core::image_ref::{ImageRefError, parse_image_ref};

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9]",
        "[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]",
        Just("localhost".to_owned()),
    ]
}

fn domain() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(label(), 1..4),
        prop::option::of("[0-9]{1,5}"),
    )
        .prop_map(|(labels, port)| {
            let mut d = labels.join(".");
            if let Some(p) = port {
                d.push(':');
                d.push_str(&p);
            }
            d
        })
}

fn component() -> impl Strategy<Value = String> {
    let run = prop_oneof![8 => "[a-z0-9]{1,4}", 1 => "[a-z0-9]{120,260}"];
    let separator = prop_oneof![
        Just("."),
        Just("_"),
        Just("__"),
        Just("-"),
        Just("--"),
        Just("---")
    ];
    (run.clone(), prop::collection::vec((separator, run), 0..3)).prop_map(|(first, more)| {
        let mut s = first;
        for (sep, run) in more {
            s.push_str(sep);
            s.push_str(&run);
        }
        s
    })
}

fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}",
        1 => "\\w[\\w.-]{0,4}",
        1 => "[a-z][a-z0-9.-]{124,130}",
    ]
}

fn digest() -> impl Strategy<Value = String> {
    let algorithm = prop_oneof![
        6 => Just("sha256"),
        1 => Just("sha384"),
        1 => Just("sha512"),
        1 => Just("md5"),
        1 => Just("SHA256"),
        1 => Just("sha256+b64u.x"),
        1 => Just("a-1"),
    ];
    let hex_len = prop_oneof![
        Just(31usize),
        Just(32),
        Just(63),
        Just(64),
        Just(65),
        Just(96),
        Just(128)
    ];
    (algorithm, hex_len, any::<u64>()).prop_map(|(a, n, seed)| {
        let digits = "0123456789abcdefABCDEF".as_bytes();
        let mut state = seed;
        let hex: String = (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                // Mostly lowercase, sometimes uppercase.
                let pick = (state >> 33) as usize % if seed % 4 == 0 { 22 } else { 16 };
                digits[pick] as char
            })
            .collect();
        format!("{a}:{hex}")
    })
}

/// Strings the grammar generates (some still invalid: digest algorithm,
/// lengths).
fn grammatical() -> impl Strategy<Value = String> {
    (
        prop::option::of(domain()),
        prop::collection::vec(component(), 1..4),
        prop::option::of(tag()),
        prop::option::of(digest()),
    )
        .prop_map(|(domain, path, tag, digest)| {
            let mut s = String::new();
            if let Some(d) = domain {
                s.push_str(&d);
                s.push('/');
            }
            s.push_str(&path.join("/"));
            if let Some(t) = tag {
                s.push(':');
                s.push_str(&t);
            }
            if let Some(d) = digest {
                s.push('@');
                s.push_str(&d);
            }
            s
        })
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, char),
    Delete(usize),
    Replace(usize, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let ch = prop_oneof![
        prop::sample::select(vec![
            '/', ':', '@', '.', '_', '-', '+', 'A', 'z', '0', ' ', '\n', 'é', '٣', '\u{301}', '\0'
        ]),
        any::<char>(),
    ];
    prop_oneof![
        (any::<usize>(), ch.clone()).prop_map(|(i, c)| Edit::Insert(i, c)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), ch).prop_map(|(i, c)| Edit::Replace(i, c)),
    ]
}

fn mutated() -> impl Strategy<Value = String> {
    (grammatical(), prop::collection::vec(edit(), 1..4)).prop_map(|(s, edits)| {
        let mut chars: Vec<char> = s.chars().collect();
        for e in edits {
            match e {
                Edit::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
                Edit::Delete(i) if !chars.is_empty() => {
                    chars.remove(i % chars.len());
                }
                Edit::Replace(i, c) if !chars.is_empty() => {
                    let n = chars.len();
                    chars[i % n] = c;
                }
                _ => {}
            }
        }
        chars.into_iter().collect()
    })
}

fn same_reason(ours: ImageRefError, theirs: &ParseError) -> bool {
    matches!(
        (ours, theirs),
        (ImageRefError::Empty, ParseError::NameEmpty)
            | (
                ImageRefError::InvalidFormat,
                ParseError::ReferenceInvalidFormat
            )
            | (ImageRefError::NameTooLong, ParseError::NameTooLong)
            | (
                ImageRefError::DigestInvalidLength,
                ParseError::DigestInvalidLength
            )
            | (
                ImageRefError::DigestUnsupported,
                ParseError::DigestUnsupported
            )
    )
}

fn agree(s: &str) -> Result<(), TestCaseError> {
    match (parse_image_ref(s), Reference::from_str(s)) {
        (Ok(ours), Ok(theirs)) => {
            prop_assert_eq!(ours.digest, theirs.digest(), "digest of {:?}", s);
            if ours.tag.is_some() || ours.digest.is_some() {
                prop_assert_eq!(ours.tag, theirs.tag(), "tag of {:?}", s);
            }
        }
        (Err(ours), Err(theirs)) => {
            prop_assert!(
                same_reason(ours, &theirs),
                "{:?}: ours {:?}, oci-spec {:?}",
                s,
                ours,
                theirs
            );
        }
        (ours, theirs) => {
            prop_assert!(false, "{:?}: ours {:?}, oci-spec {:?}", s, ours, theirs);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn agrees_with_oci_spec_on_grammatical_references(s in grammatical()) {
        agree(&s)?;
    }

    #[test]
    fn agrees_with_oci_spec_on_edited_references(s in mutated()) {
        agree(&s)?;
    }

    #[test]
    fn agrees_with_oci_spec_on_arbitrary_strings(s in "[a-z0-9./:@_-]{0,24}") {
        agree(&s)?;
    }
}

#[test]
fn agrees_on_known_edge_cases() {
    let hex = "f".repeat(64);
    for s in [
        "",
        "Upper/case",
        "upper/Case",
        "a",
        "A",
        "a:",
        ":a",
        "@",
        "a@",
        "docker.io/a",
        "index.docker.io/a",
        "localhost:5000/a",
        "localhost/a",
        "a/b:c/d",
        "a:5000/b",
        "a-:5000/b",
        "a.-b/c",
        "a__b",
        "a___b",
        "a-_b",
        "a:\u{e9}t\u{e9}",
        "a:-tag",
        "a:.tag",
        "a:_tag",
        &format!("a@sha256:{hex}"),
        &format!("a@sha256:{}", hex.to_uppercase()),
        &format!("a@sha256:{hex}0"),
        &format!("a@sha256:{hex}@sha256:{hex}"),
        &format!("a:t@sha256:{hex}"),
        &format!("a:t@:{hex}"),
        &"a".repeat(247),
        &"a".repeat(248),
        &format!("x/{}", "a".repeat(253)),
        &format!("x/{}", "a".repeat(254)),
        &format!("x.io/{}", "a".repeat(255)),
        &format!("x.io/{}", "a".repeat(256)),
        &format!("docker.io/{}", "a".repeat(247)),
        &format!("docker.io/{}", "a".repeat(248)),
        &format!("a:{}", "t".repeat(128)),
        &format!("a:{}", "t".repeat(129)),
        &format!("a:{}", "é".repeat(128)),
        &format!("a:{}", "é".repeat(129)),
    ] {
        if let Err(e) = agree(s) {
            panic!("{e}");
        }
    }
}
