//! The committed TypeScript declarations and Python TypedDicts are what
//! the Rust types generate today (see `apptemplate_interop::binding_types`).

use std::path::Path;

use apptemplate_interop::binding_types::{UPDATE_COMMAND, generated_files};

#[test]
fn generated_types_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let update = std::env::var_os("UPDATE_TYPES").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for file in generated_files() {
        let path = root.join(file.path);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == file.text {
            continue;
        }
        if update {
            std::fs::write(&path, &file.text)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        } else {
            stale.push(file.path);
        }
    }
    assert!(
        stale.is_empty(),
        "{} no longer match the Rust types they are generated from: run `{UPDATE_COMMAND}` \
         (then, for types.d.ts, `npx napi build --platform` in bindings/node to refresh \
         index.d.ts) and commit the result",
        stale.join(" and ")
    );
}
