//! `cargo run -p kafkacc-codegen`: regenerates `protocol/src/generated/`
//! from `codegen/specs/`.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    match run() {
        Ok(count) => {
            println!(
                "wrote {count} files to {}",
                kafkacc_codegen::output_dir().display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kafkacc-codegen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<usize, String> {
    let files = kafkacc_codegen::generate(&kafkacc_codegen::specs_dir())?;
    let out = kafkacc_codegen::output_dir();
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    // remove generated files that no longer have a spec
    for entry in std::fs::read_dir(&out).map_err(|e| format!("{}: {e}", out.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(".rs") && !files.contains_key(&name) {
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    let mut written = Vec::new();
    for (name, source) in &files {
        let path = out.join(name);
        let unchanged = std::fs::read_to_string(&path).is_ok_and(|old| &old == source);
        if !unchanged {
            std::fs::write(&path, source).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        written.push(path);
    }
    // the sources are already formatted; running rustfmt on the files keeps
    // them identical to what `cargo fmt` would produce
    let status = Command::new("rustfmt")
        .args(["--edition", "2024"])
        .args(&written)
        .current_dir(kafkacc_codegen::workspace_root())
        .status()
        .map_err(|e| format!("cannot run rustfmt: {e}"))?;
    if !status.success() {
        return Err("rustfmt failed on the written files".into());
    }
    Ok(files.len())
}
