//! `lnpolicy generate-config FILE`: a commented example covering every feature, which an
//! operator edits rather than starting from a blank page.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::Stdout;

/// The example; a test checks that it loads and that its strategies and parameters exist.
pub const EXAMPLE: &str = include_str!("example.config");

pub fn write(path: &Path) -> Result<ExitCode> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| {
            format!(
                "creating {} (an existing file is never overwritten)",
                path.display()
            )
        })?;
    file.write_all(EXAMPLE.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(
        Stdout,
        "wrote {}; check it with: lnpolicy -c {} --check",
        path.display(),
        path.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
