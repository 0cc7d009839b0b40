//! The data types of the bindings, generated from the Rust types: the
//! TypeScript declarations of `bindings/node/types.d.ts` and the Python
//! TypedDicts of `bindings/python/python/apptemplate/types.py` (with the
//! stubtest allowlist of its aliases).
//!
//! Both are written from the JSON Schemas schemars derives for the Rust
//! types (doc comments become descriptions), so a field added in Rust
//! appears in both bindings and a committed copy that no longer matches
//! fails `cargo test -p apptemplate-interop --test generated_types`.
//! `UPDATE_TYPES=1` on that command rewrites the files.
//!
//! Data handed out is described as it is serialized (a field skipped when
//! empty is optional, one always written is required); options and other
//! input as it is deserialized (a field with a default is optional).

mod python;
mod typescript;

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::data::ErrorData;

/// One named type of the bindings with its JSON Schema, references to
/// other types written `#/$defs/<name>` with the bindings' names.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedType {
    /// The name both bindings give the type.
    pub name: String,
    /// Its JSON Schema (draft 2020-12).
    pub schema: Value,
}

/// A generated file: where it is committed and its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path from the workspace root.
    pub path: &'static str,
    /// The whole content, as committed.
    pub text: String,
}

/// The command that rewrites the generated files, for messages.
pub const UPDATE_COMMAND: &str =
    "UPDATE_TYPES=1 cargo test -p apptemplate-interop --test generated_types";

/// Rust type names the bindings spell otherwise: names that are too
/// general next to the other exports, or that the bindings always used.
const RENAMES: &[(&str, &str)] = &[
    ("Action", "StepAction"),
    ("Phase", "TransferPhase"),
    ("Progress", "TransferProgress"),
    ("KeyPairText", "KeyPair"),
    ("ImportedVersion", "ImportedVersionOutcome"),
    ("Note", "CaptureNote"),
    ("Evidence", "DefaultEvidence"),
    ("Confidence", "DependencyConfidence"),
    ("TemplateInfo", "TemplateCatalogue"),
    ("DigestSource", "ImageDigestSource"),
];

/// Every file generated from the Rust types, in a fixed order.
pub fn generated_files() -> Vec<GeneratedFile> {
    let types = binding_types();
    vec![
        GeneratedFile {
            path: "bindings/node/types.d.ts",
            text: typescript::declarations(&types),
        },
        GeneratedFile {
            path: "bindings/python/python/apptemplate/types.py",
            text: python::module(&types),
        },
        GeneratedFile {
            path: "bindings/python/stubtest-allowlist.txt",
            text: python::stubtest_allowlist(&types),
        },
    ]
}

/// The types the bindings hand out or take in, each after the types it
/// refers to (so Python can define them in this order).
pub fn binding_types() -> Vec<NamedType> {
    let mut output = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut input = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    let mut roots = Vec::new();
    let mut input_roots = BTreeSet::new();
    macro_rules! output {
        ($($t:ty),* $(,)?) => {$(
            output.subschema_for::<$t>();
            roots.push(<$t as JsonSchema>::schema_name().into_owned());
        )*};
    }
    macro_rules! input {
        ($($t:ty),* $(,)?) => {$(
            input.subschema_for::<$t>();
            roots.push(<$t as JsonSchema>::schema_name().into_owned());
            input_roots.insert(<$t as JsonSchema>::schema_name().into_owned());
        )*};
    }
    {
        use template_core::*;
        output!(
            VersionDiff,
            Plan,
            InstalledState,
            UpgradeRecord,
            PublishOutcome
        );
        output!(
            IncrementalSummary,
            Problem,
            package::Inventory,
            RecordSummary
        );
        input!(InstallOptions, UpgradeOptions, RollbackOptions);
        input!(StateCustomizations, IncrementalChange);
    }
    {
        use template_market::*;
        output!(ImageRef, TemplateSummary, VersionSummary);
        output!(GcReport, VerifyReport, Progress<'static>, ExportReport);
        output!(ImportReport, PullProgress<'static>, PullReport);
        output!(RelocateProgress<'static>, RelocateReport, KeyPairText);
        input!(MarketOptions, ExportOptions, ImportOptions, PullOptions);
        output!(RegistryPublishReport, ReleaseTransition, FetchReport);
        input!(RegistryAccess, RelocateOptions);
    }
    {
        // Kubernetes and delivery types, in the order the generated files
        // list them.
        use template_delivery as delivery;
        use template_k8s::*;
        output!(drift::DetectedChange, OperationReport);
        output!(progress::DeliveryEvent, delivery::EnvironmentOutcome);
        output!(capture::CaptureReport, delivery::PublishFromClusterProgress);
        output!(delivery::PublishFromClusterReport);
        input!(
            EnvironmentProfile,
            ExecutorOptions,
            delivery::DeliveryOptions
        );
        input!(capture::CaptureOptions, delivery::PublishFromClusterOptions);
    }
    output.subschema_for::<ErrorData>();

    let output_defs = output.definitions().clone();
    let input_defs = input.definitions().clone();
    // A type read in (documents inside an incremental change) whose fields
    // with defaults may be left out, where the same type handed out always
    // has them: its input form is `<Name>Input`.
    let input_names: BTreeMap<String, String> = input_defs
        .iter()
        .map(|(name, schema)| {
            let differs = !input_roots.contains(name)
                && output_defs.get(name).is_some_and(|out| out != schema);
            let input_name = if differs {
                format!("{name}Input")
            } else {
                name.clone()
            };
            (name.clone(), input_name)
        })
        .collect();
    let mut defs: BTreeMap<String, Value> = BTreeMap::new();
    for (name, mut schema) in input_defs {
        rename_refs(&mut schema, &|n: &str| {
            input_names.get(n).cloned().unwrap_or_else(|| n.to_owned())
        });
        let input_name = input_names.get(&name).cloned().unwrap_or(name);
        defs.insert(input_name, schema);
    }
    for (name, schema) in output_defs {
        defs.entry(name).or_insert(schema);
    }
    bindings_error_of_outcomes(&mut defs);

    let renames: BTreeMap<&str, &str> = RENAMES.iter().copied().collect();
    let rename = |name: &str| renames.get(name).copied().unwrap_or(name).to_owned();
    let mut ordered = Vec::new();
    let mut seen = BTreeSet::new();
    for root in &roots {
        visit(root, &defs, &mut seen, &mut ordered);
    }
    ordered
        .into_iter()
        .map(|name| {
            let mut schema = defs.get(&name).cloned().unwrap_or(Value::Bool(true));
            rename_refs(&mut schema, &rename);
            NamedType {
                name: rename(&name),
                schema,
            }
        })
        .collect()
}

/// The bindings hand out a delivery's failed environment with its error
/// classified (see [`crate::outcome_data`]), not as the message the Rust
/// JSON carries.
fn bindings_error_of_outcomes(defs: &mut BTreeMap<String, Value>) {
    if let Some(Value::Object(properties)) = defs
        .get_mut("EnvironmentOutcome")
        .and_then(|outcome| outcome.get_mut("properties"))
    {
        properties.insert(
            "error".to_owned(),
            json!({
                "description": "Why it failed (relocation, cluster, rollout), classified like a thrown error; null when it succeeded.",
                "anyOf": [{"$ref": "#/$defs/ErrorData"}, {"type": "null"}],
            }),
        );
    }
}

/// Depth first, a type after the types it refers to.
fn visit(
    name: &str,
    defs: &BTreeMap<String, Value>,
    seen: &mut BTreeSet<String>,
    ordered: &mut Vec<String>,
) {
    if !seen.insert(name.to_owned()) {
        return;
    }
    let Some(schema) = defs.get(name) else {
        return;
    };
    let mut refs = Vec::new();
    collect_refs(schema, &mut refs);
    for reference in refs {
        visit(&reference, defs, seen, ordered);
    }
    ordered.push(name.to_owned());
}

fn collect_refs(schema: &Value, refs: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(name) = map.get("$ref").and_then(Value::as_str).and_then(ref_name) {
                refs.push(name.to_owned());
            }
            for value in map.values() {
                collect_refs(value, refs);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, refs)),
        _ => {}
    }
}

fn rename_refs(schema: &mut Value, rename: &dyn Fn(&str) -> String) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref")
                && let Some(name) = ref_name(reference)
            {
                *reference = format!("#/$defs/{}", rename(name));
            }
            map.values_mut()
                .for_each(|value| rename_refs(value, rename));
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rename_refs(item, rename)),
        _ => {}
    }
}

/// The type a `$ref` names.
fn ref_name(reference: &str) -> Option<&str> {
    reference.strip_prefix("#/$defs/")
}

/// The description of a schema: title and description as schemars split
/// the doc comment, with rustdoc links reduced to their text.
fn doc(schema: &Value) -> String {
    let part = |key: &str| schema.get(key).and_then(Value::as_str).unwrap_or("");
    let text = match (part("title"), part("description")) {
        ("", d) => d.to_owned(),
        (t, "") => t.to_owned(),
        (t, d) => format!("{t}\n\n{d}"),
    };
    strip_doc_links(&text)
}

/// Intra-doc links (a code span in brackets, with or without a target in
/// parentheses after it) become the code span alone.
fn strip_doc_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[`") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find("`]") {
            Some(end) if !after[..end + 1].contains('\n') => {
                out.push_str(&after[..end + 1]);
                rest = &after[end + 2..];
                if rest.starts_with('(')
                    && let Some(close) = rest.find(')')
                {
                    rest = &rest[close + 1..];
                }
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The properties of an object schema in reading order: constant (tag)
/// properties first, then the required ones as declared, then the
/// optional ones (schemars keeps no order for those; alphabetical).
fn ordered_properties(schema: &Value) -> Vec<(&str, &Value, bool)> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut ordered: Vec<(&str, &Value, bool)> = Vec::new();
    for name in &required {
        if let Some(p) = properties.get(*name)
            && p.get("const").is_some()
        {
            ordered.push((name, p, true));
        }
    }
    for name in &required {
        if let Some(p) = properties.get(*name)
            && p.get("const").is_none()
        {
            ordered.push((name, p, true));
        }
    }
    for (name, p) in properties {
        if !required.contains(&name.as_str()) {
            ordered.push((name, p, false));
        }
    }
    ordered
}

/// The string constants of a union of string constants (`enum` or a
/// `oneOf` of `const`s), with each one's description; `None` otherwise.
fn string_constants(schema: &Value) -> Option<Vec<(String, String)>> {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values
            .iter()
            .map(|v| v.as_str().map(|s| (s.to_owned(), String::new())))
            .collect();
    }
    if let Some(value) = schema.get("const").and_then(Value::as_str) {
        return Some(vec![(value.to_owned(), String::new())]);
    }
    let variants = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)?;
    let mut constants = Vec::new();
    for variant in variants {
        let mut inner = string_constants(variant)?;
        if inner.len() == 1 {
            inner[0].1 = doc(variant);
        }
        constants.extend(inner);
    }
    Some(constants)
}

/// The variants of a union schema (`oneOf` or `anyOf`).
fn variants(schema: &Value) -> Option<&Vec<Value>> {
    schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
}

/// The `type` keyword as a list (`"string"` or `["string", "null"]`).
fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The schema without its `type` keyword narrowed to one type of a list.
fn with_type(schema: &Value, t: &str) -> Value {
    let mut copy = schema.clone();
    if let Value::Object(map) = &mut copy {
        map.insert("type".to_owned(), Value::String(t.to_owned()));
    }
    copy
}

/// Whether a schema is an object with named properties (an interface, a
/// TypedDict).
fn is_record(schema: &Value) -> bool {
    schema.get("properties").is_some()
}

/// The base types an object schema extends (`$ref` beside properties, or
/// `allOf` of references).
fn bases(schema: &Value) -> Vec<String> {
    let mut names = Vec::new();
    if is_record(schema)
        && let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(ref_name)
    {
        names.push(name.to_owned());
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            if let Some(name) = part.get("$ref").and_then(Value::as_str).and_then(ref_name) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// The property every variant of a tagged union fixes to a string.
fn tag_property(variants: &[Value]) -> Option<String> {
    let first = variants.first()?.get("properties")?.as_object()?;
    first
        .iter()
        .filter(|(_, p)| p.get("const").is_some_and(Value::is_string))
        .map(|(name, _)| name)
        .find(|name| {
            variants.iter().all(|v| {
                v.get("properties")
                    .and_then(|p| p.get(name.as_str()))
                    .and_then(|p| p.get("const"))
                    .is_some_and(Value::is_string)
            })
        })
        .cloned()
}
