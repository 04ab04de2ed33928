//! Architecture invariants checked by walking the workspace's sources:
//!
//! * only green-core names the platform crates (`polling`, `corosensei`,
//!   `libc`) — no `.rs` file elsewhere contains `<crate>::`;
//! * every crate other than green-core carries `#![forbid(unsafe_code)]` or
//!   `#![deny(unsafe_code)]` in its `lib.rs`.
//!
//! The workspace root is `CARGO_MANIFEST_DIR/..`; `target*` directories and
//! hidden directories (`.git`) are skipped.

use std::fs;
use std::path::{Path, PathBuf};

/// Crates only green-core may name. Spelled so that this file does not
/// contain the patterns it looks for.
const PLATFORM_CRATES: [&str; 3] = ["polling", "corosensei", "libc"];

const CORE_DIR: &str = "green-core";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the conformance crate sits inside the workspace")
        .to_path_buf()
}

fn skipped_dir(name: &str) -> bool {
    name.starts_with("target") || name.starts_with('.')
}

/// Every file under `dir` whose name ends with `suffix`, skipping target
/// and hidden directories and, at the top level, `skip_top`.
fn walk(dir: &Path, suffix: &str, skip_top: Option<&str>, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            if skipped_dir(&name) || skip_top == Some(name.as_str()) {
                continue;
            }
            walk(&path, suffix, None, out);
        } else if kind.is_file() && name.ends_with(suffix) {
            out.push(path);
        }
    }
}

/// Each `(line number, line)` of `source` naming one of `crates` as a path
/// (`name::`, not preceded by an identifier character).
fn platform_uses<'a>(source: &'a str, crates: &[&str]) -> Vec<(usize, &'a str)> {
    let mut hits = Vec::new();
    for (no, line) in source.lines().enumerate() {
        let found = crates.iter().any(|krate| {
            let needle = format!("{krate}::");
            line.match_indices(&needle).any(|(at, _)| {
                line[..at]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            })
        });
        if found {
            hits.push((no + 1, line));
        }
    }
    hits
}

/// Whether a crate root forbids or denies `unsafe_code` at crate level.
fn restricts_unsafe(lib_rs: &str) -> bool {
    lib_rs.lines().any(|line| {
        let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        (compact.starts_with("#![forbid(") || compact.starts_with("#![deny("))
            && compact
                .split(['(', ')', ','])
                .any(|lint| lint == "unsafe_code")
    })
}

#[test]
fn the_scanner_finds_what_it_should() {
    let p = |name: &str| format!("{name}::");
    let src = format!(
        "use {}Poller;\nlet x = my_{}call();\n// {}ctx\nfn f() {{ ::{}fcntl }}\n",
        p("polling"),
        p("libc"),
        p("corosensei"),
        p("libc")
    );
    let hits: Vec<usize> = platform_uses(&src, &PLATFORM_CRATES)
        .into_iter()
        .map(|h| h.0)
        .collect();
    assert_eq!(hits, [1, 3, 4], "line 2 is another crate (my_…)");
    assert!(restricts_unsafe("//! doc\n#![forbid(unsafe_code)]\n"));
    assert!(restricts_unsafe("#![deny(missing_docs, unsafe_code)]"));
    assert!(!restricts_unsafe("#![deny(missing_docs)]\n"));
    assert!(!restricts_unsafe("// #![forbid(unsafe_code)] is planned\n"));
    assert!(!restricts_unsafe("#![warn(unsafe_code)]"));
}

#[test]
fn only_green_core_names_the_platform_crates() {
    let root = workspace_root();
    let mut files = Vec::new();
    walk(&root, ".rs", Some(CORE_DIR), &mut files);
    // The walk must really have seen the workspace (this file at least).
    assert!(
        files.iter().any(|f| f.ends_with("tests/tests/layering.rs")),
        "the walk from {} missed this very file",
        root.display()
    );
    let mut offences = Vec::new();
    for file in &files {
        let source = fs::read_to_string(file).unwrap_or_default();
        for (no, line) in platform_uses(&source, &PLATFORM_CRATES) {
            let rel = file.strip_prefix(&root).unwrap_or(file);
            offences.push(format!("{}:{no}: {}", rel.display(), line.trim()));
        }
    }
    assert!(
        offences.is_empty(),
        "only green-core may name {PLATFORM_CRATES:?}; found:\n{}",
        offences.join("\n")
    );
}

#[test]
fn every_crate_but_green_core_restricts_unsafe_code() {
    let root = workspace_root();
    let mut manifests = Vec::new();
    walk(&root, "Cargo.toml", Some(CORE_DIR), &mut manifests);
    let mut checked = Vec::new();
    let mut offences = Vec::new();
    for manifest in manifests {
        let text = fs::read_to_string(&manifest).unwrap();
        if !text.lines().any(|l| l.trim() == "[package]") {
            continue;
        }
        let dir = manifest.parent().unwrap();
        let lib = dir.join("src/lib.rs");
        let Ok(source) = fs::read_to_string(&lib) else {
            continue; // no library target
        };
        let rel = lib
            .strip_prefix(&root)
            .unwrap_or(&lib)
            .display()
            .to_string();
        if !restricts_unsafe(&source) {
            offences.push(rel.clone());
        }
        checked.push(rel);
    }
    println!("checked: {checked:?}");
    assert!(
        checked.iter().any(|c| c.starts_with("green-time")),
        "the walk missed green-time: {checked:?}"
    );
    assert!(
        offences.is_empty(),
        "these crate roots lack #![forbid(unsafe_code)] or #![deny(unsafe_code)]: {offences:?}"
    );
}
