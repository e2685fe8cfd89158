//! kafkacc-codegen: reads the Kafka JSON message specs in `codegen/specs/`
//! and writes `protocol/src/generated/`: one Rust module per spec with
//! typed structs, `Encode`/`Decode` for every valid version, `Default` with
//! the spec defaults, proptest strategies, and a `mod.rs` with `ApiKey` and
//! the `RequestKind`/`ResponseKind` dispatch enums.
//!
//! Stages: [`spec`] (serde mirror of the JSON) -> [`ir`] (version sets,
//! types, defaults) -> `emit` (source text) -> rustfmt.

#![warn(missing_docs)]

pub mod emit;
pub mod ir;
pub mod names;
pub mod spec;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map_or_else(|| manifest.to_path_buf(), Path::to_path_buf)
}

/// The spec directory of this crate.
pub fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("specs")
}

/// Where the generated files go.
pub fn output_dir() -> PathBuf {
    workspace_root()
        .join("protocol")
        .join("src")
        .join("generated")
}

/// Reads every `*.json` spec of `specs_dir`, sorted by file name.
pub fn read_specs(specs_dir: &Path) -> Result<Vec<(String, spec::MessageSpec)>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(specs_dir)
        .map_err(|e| format!("{}: {e}", specs_dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("no *.json specs in {}", specs_dir.display()));
    }
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{name}: {e}"))?;
            let spec = spec::parse_spec(&text).map_err(|e| format!("{name}: {e}"))?;
            Ok((name, spec))
        })
        .collect()
}

/// Generates every file, unformatted: file name (relative to
/// `protocol/src/generated/`) -> source.
pub fn generate_unformatted(specs_dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let specs = read_specs(specs_dir)?;
    let messages = ir::build_all(&specs)?;
    let mut files = BTreeMap::new();
    for m in &messages {
        files.insert(format!("{}.rs", m.module), emit::message_file(m));
    }
    files.insert("mod.rs".to_string(), emit::mod_file(&messages)?);
    files.insert(
        "arbitrary_support.rs".to_string(),
        emit::arbitrary_support_file(),
    );
    Ok(files)
}

/// Generates every file, formatted with `rustfmt --edition 2024`: file name
/// (relative to `protocol/src/generated/`) -> source.
pub fn generate(specs_dir: &Path) -> Result<BTreeMap<String, String>, String> {
    generate_unformatted(specs_dir)?
        .into_iter()
        .map(|(name, source)| {
            let formatted = rustfmt(&source).map_err(|e| format!("{name}: {e}"))?;
            Ok((name, formatted))
        })
        .collect()
}

/// Formats source text with `rustfmt --edition 2024 --emit stdout`, using the
/// workspace's `rustfmt.toml`.
pub fn rustfmt(source: &str) -> Result<String, String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .current_dir(workspace_root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run rustfmt: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("rustfmt has no stdin")?;
    let input = source.to_string();
    // write from another thread so a large output cannot deadlock the pipes
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    writer
        .join()
        .map_err(|_| "rustfmt writer panicked".to_string())?
        .map_err(|e| format!("writing to rustfmt: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    String::from_utf8(output.stdout).map_err(|e| format!("rustfmt output: {e}"))
}
