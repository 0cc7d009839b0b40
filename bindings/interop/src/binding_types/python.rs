//! Python TypedDicts and Literal aliases of the binding types
//! (`bindings/python/python/apptemplate/types.py`).

use std::fmt::Write as _;

use serde_json::Value;

use super::{
    NamedType, UPDATE_COMMAND, bases, doc, is_record, ordered_properties, ref_name,
    string_constants, tag_property, types_of, variants, with_type,
};

/// Names the Python package gave some types before they were generated;
/// kept so code written against them still type-checks.
const ALIASES: &[(&str, &str)] = &[
    ("Environment", "EnvironmentProfile"),
    ("ImageInfo", "ImageRef"),
    ("ImportedVersion", "ImportedVersionReport"),
    ("PackageProgress", "TransferProgress"),
    ("PulledImageRef", "ImageRef"),
    ("TemplateInfo", "TemplateSummary"),
    ("VersionInfo", "VersionSummary"),
];

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// The allowlist of mypy's stubtest: the module's `Literal` aliases and
/// former names. Checking the module against itself, stubtest reads a
/// `Literal` alias as a Union and the runtime object as a typing alias (the
/// same type), and an alias of a TypedDict as no type alias; nothing else
/// differs.
pub(super) fn stubtest_allowlist(types: &[NamedType]) -> String {
    let mut writer = Writer::default();
    for named in types {
        writer.definition(&named.name, &named.schema);
    }
    let mut names = writer.aliases;
    names.extend(ALIASES.iter().map(|(alias, _)| (*alias).to_owned()));
    names.sort();
    let mut out = String::from(
        "# Generated with apptemplate/types.py by bindings/interop; do not edit.\n\
         # stubtest checks the generated module against itself and reads each\n\
         # Literal alias as a Union and the runtime object as a typing alias\n\
         # (the same type), and an alias of a TypedDict as no type alias.\n",
    );
    for name in names {
        let _ = writeln!(out, "apptemplate.types.{name}");
    }
    out
}

/// The whole module.
pub(super) fn module(types: &[NamedType]) -> String {
    let mut writer = Writer::default();
    for named in types {
        writer.definition(&named.name, &named.schema);
    }
    let Writer {
        out: body, names, ..
    } = writer;
    let mut out = String::new();
    out.push_str("\"\"\"Types of the plain data apptemplate returns and takes.\n\n");
    out.push_str(
        "These describe dicts for type checkers; at run time the values are ordinary\n\
         dicts and lists with the content of the Rust JSON. Generated from the Rust\n\
         types (their JSON Schemas) by bindings/interop; do not edit, run\n",
    );
    let _ = writeln!(out, "``{UPDATE_COMMAND}``.");
    out.push_str("\"\"\"\n\n");
    out.push_str(
        "from typing import Any, Dict, List, Literal, Optional, Tuple, TypedDict, Union\n",
    );
    out.push_str(&body);
    out.push_str("\n\n# Names this package used before the types were generated.\n");
    let mut all: Vec<String> = names;
    for (alias, target) in ALIASES {
        let _ = writeln!(out, "{alias} = {target}");
        all.push((*alias).to_owned());
    }
    out.push_str("\nData = Dict[str, Any]\n");
    out.push_str("\"\"\"Any value as a dict: the Rust JSON as it is.\"\"\"\n");
    all.push("Data".to_owned());
    all.sort();
    all.dedup();
    out.push_str("\n__all__ = [\n");
    for name in all.iter().filter(|n| !n.starts_with('_')) {
        let _ = writeln!(out, "    \"{name}\",");
    }
    out.push_str("]\n");
    out
}

#[derive(Default)]
struct Writer {
    out: String,
    names: Vec<String>,
    /// Names bound to a `Literal`.
    aliases: Vec<String>,
}

impl Writer {
    fn definition(&mut self, name: &str, schema: &Value) {
        if is_record(schema) && variants(schema).is_none() {
            self.typed_dict(name, schema);
            return;
        }
        let expression = self.expression(schema, name);
        let mut text = doc(schema);
        if let Some(constants) = string_constants(schema)
            && constants.iter().any(|(_, d)| !d.is_empty())
        {
            text.push('\n');
            for (value, d) in &constants {
                let _ = write!(text, "\n- ``{value}``");
                if !d.is_empty() {
                    let _ = write!(text, ": {}", d.replace('\n', " "));
                }
            }
        }
        let _ = writeln!(self.out, "\n\n{name} = {expression}");
        docstring(&mut self.out, &text, "");
        self.names.push(name.to_owned());
        if expression.starts_with("Literal[") {
            self.aliases.push(name.to_owned());
        }
    }

    /// A TypedDict; required and optional keys need two classes (the
    /// optional ones in a `total=False` subclass) on Python 3.9.
    fn typed_dict(&mut self, name: &str, schema: &Value) {
        let properties = ordered_properties(schema);
        let fields: Vec<(String, String, String, bool)> = properties
            .iter()
            .map(|(key, property, required)| {
                let hint = format!("{name}{}", pascal(key));
                (
                    (*key).to_owned(),
                    self.expression(property, &hint),
                    doc(property),
                    *required,
                )
            })
            .collect();
        let bases = bases(schema);
        let base = if bases.is_empty() {
            "TypedDict".to_owned()
        } else {
            bases.join(", ")
        };
        let text = doc(schema);
        let required: Vec<_> = fields.iter().filter(|f| f.3).collect();
        let optional: Vec<_> = fields.iter().filter(|f| !f.3).collect();
        let plain = |f: &&(String, String, String, bool)| is_identifier(&f.0);
        if !required.iter().all(plain) || !optional.iter().all(plain) {
            // Keys that are Python keywords (`from`): the functional form.
            let _ = writeln!(self.out);
            for line in text.lines() {
                let _ = writeln!(self.out, "{}", format!("# {line}").trim_end());
            }
            let mut parts = Vec::new();
            for (group, total) in [(&required, "True"), (&optional, "False")] {
                if group.is_empty() {
                    continue;
                }
                let keys: Vec<String> = group
                    .iter()
                    .map(|f| format!("{}: {}", quote(&f.0), f.1))
                    .collect();
                let part = if optional.is_empty() || required.is_empty() {
                    name.to_owned()
                } else {
                    format!(
                        "_{name}{}",
                        if total == "True" {
                            "Required"
                        } else {
                            "Optional"
                        }
                    )
                };
                let _ = writeln!(
                    self.out,
                    "{part} = TypedDict({}, {{{}}}, total={total})",
                    quote(&part),
                    keys.join(", ")
                );
                parts.push(part);
            }
            if parts.len() == 2 {
                let _ = writeln!(self.out, "\n\nclass {name}({}, {}):", parts[0], parts[1]);
                docstring(&mut self.out, &text, "    ");
            }
            self.names.push(name.to_owned());
            return;
        }
        // The class carrying the docstring holds the optional keys when
        // there are both kinds, its `_<Name>Required` base the others.
        let own_keys = if !required.is_empty() && !optional.is_empty() {
            let inner = format!("_{name}Required");
            let _ = writeln!(self.out, "\n\nclass {inner}({base}):");
            field_lines(&mut self.out, &required);
            let _ = writeln!(self.out, "\n\nclass {name}({inner}, total=False):");
            optional
        } else if optional.is_empty() {
            let _ = writeln!(self.out, "\n\nclass {name}({base}):");
            required
        } else {
            let _ = writeln!(self.out, "\n\nclass {name}({base}, total=False):");
            optional
        };
        if text.is_empty() && own_keys.is_empty() {
            self.out.push_str("    pass\n");
        } else if !text.is_empty() {
            docstring(&mut self.out, &text, "    ");
            if !own_keys.is_empty() {
                self.out.push('\n');
            }
        }
        field_lines(&mut self.out, &own_keys);
        self.names.push(name.to_owned());
    }

    /// The Python type of a schema. Inline objects (variants of a tagged
    /// union) become TypedDicts named after `hint`, written first.
    fn expression(&mut self, schema: &Value, hint: &str) -> String {
        let Value::Object(map) = schema else {
            return "Any".to_owned();
        };
        if let Some(value) = map.get("const") {
            return format!("Literal[{}]", literal(value));
        }
        if let Some(values) = map.get("enum").and_then(Value::as_array) {
            let (nulls, values): (Vec<&Value>, Vec<&Value>) =
                values.iter().partition(|v| v.is_null());
            let literals: Vec<String> = values.iter().map(|v| literal(v)).collect();
            let expression = literal_union(&literals);
            return if nulls.is_empty() {
                expression
            } else {
                format!("Optional[{expression}]")
            };
        }
        if let Some(reference) = map.get("$ref").and_then(Value::as_str).and_then(ref_name)
            && !is_record(schema)
        {
            return reference.to_owned();
        }
        if let Some(variants) = variants(schema) {
            if let Some(constants) = string_constants(schema) {
                let literals: Vec<String> = constants.iter().map(|(c, _)| quote(c)).collect();
                return literal_union(&literals);
            }
            let (nulls, others): (Vec<&Value>, Vec<&Value>) =
                variants.iter().partition(|v| types_of(v) == ["null"]);
            let tag = tag_property(variants);
            let mut members = Vec::new();
            for (index, variant) in others.iter().enumerate() {
                let name = if is_record(variant) {
                    let suffix = tag
                        .as_deref()
                        .and_then(|t| variant["properties"][t]["const"].as_str())
                        .map(pascal)
                        .or_else(|| {
                            ordered_properties(variant)
                                .first()
                                .map(|(key, _, _)| pascal(key))
                        })
                        .unwrap_or_else(|| index.to_string());
                    format!("{hint}{suffix}")
                } else {
                    format!("{hint}{index}")
                };
                members.push(self.expression(variant, &name));
            }
            let expression = if members.len() == 1 {
                members.remove(0)
            } else {
                wrapped("Union", &members)
            };
            return if nulls.is_empty() {
                expression
            } else {
                format!("Optional[{expression}]")
            };
        }
        if let Some(all) = map.get("allOf").and_then(Value::as_array) {
            return match all.as_slice() {
                [one] => self.expression(one, hint),
                _ => "Dict[str, Any]".to_owned(),
            };
        }
        let types = types_of(schema);
        if types.len() > 1 {
            let nullable = types.contains(&"null");
            let members: Vec<String> = types
                .iter()
                .filter(|t| **t != "null")
                .map(|t| self.expression(&with_type(schema, t), hint))
                .collect();
            let expression = if members.len() == 1 {
                members[0].clone()
            } else {
                wrapped("Union", &members)
            };
            return if nullable {
                format!("Optional[{expression}]")
            } else {
                expression
            };
        }
        match types.first().copied() {
            Some("string") => "str".to_owned(),
            Some("integer") => "int".to_owned(),
            Some("number") => "float".to_owned(),
            Some("boolean") => "bool".to_owned(),
            Some("null") => "None".to_owned(),
            Some("array") => {
                if let Some(items) = map.get("prefixItems").and_then(Value::as_array) {
                    let members: Vec<String> = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| self.expression(item, &format!("{hint}{i}")))
                        .collect();
                    return format!("Tuple[{}]", members.join(", "));
                }
                match map.get("items") {
                    Some(items) => {
                        format!("List[{}]", self.expression(items, &format!("{hint}Item")))
                    }
                    None => "List[Any]".to_owned(),
                }
            }
            Some("object") | None if is_record(schema) => {
                self.typed_dict(hint, schema);
                hint.to_owned()
            }
            Some("object") => match map.get("additionalProperties") {
                Some(values @ Value::Object(_)) => {
                    format!(
                        "Dict[str, {}]",
                        self.expression(values, &format!("{hint}Value"))
                    )
                }
                _ => "Dict[str, Any]".to_owned(),
            },
            _ => "Any".to_owned(),
        }
    }
}

fn field_lines(out: &mut String, fields: &[&(String, String, String, bool)]) {
    for (index, (key, expression, text, _)) in fields.iter().enumerate() {
        if index > 0 && !text.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "    {key}: {expression}");
        docstring(out, text, "    ");
    }
}

/// A docstring (after a class line or an attribute), continuation lines
/// indented like the first.
fn docstring(out: &mut String, text: &str, indent: &str) {
    let text = text
        .trim()
        .replace('\\', "\\\\")
        .replace("\"\"\"", "\\\"\\\"\\\"");
    if text.is_empty() {
        return;
    }
    let mut lines = text.lines();
    let _ = write!(out, "{indent}\"\"\"{}", lines.next().unwrap_or(""));
    for line in lines {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = write!(out, "\n{indent}{line}");
        }
    }
    let end = if text.ends_with('"') { " " } else { "" };
    let _ = writeln!(out, "{end}\"\"\"");
}

fn literal(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Null => "None".to_owned(),
        other => other.to_string(),
    }
}

fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn pascal(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.contains(&name)
}

/// `Literal[...]` on one line when it fits, else one value per line.
fn literal_union(literals: &[String]) -> String {
    wrapped("Literal", literals)
}

/// `Kind[a, b]` on one line when it fits, else one member per line.
fn wrapped(kind: &str, members: &[String]) -> String {
    let line = format!("{kind}[{}]", members.join(", "));
    if line.len() <= 80 {
        return line;
    }
    let mut out = format!("{kind}[\n");
    for member in members {
        let _ = writeln!(out, "    {member},");
    }
    out.push(']');
    out
}
