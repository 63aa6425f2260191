//! The paper's data sets over HTTP, pinned by sha256: streamed into `NAME.partial` while hashing,
//! checked, renamed into place.
//!
//! SQuAD v1.1 dev comes from its official URL. The CNN/DailyMail file the reproduction uses is a
//! 250-article selection of the test split (see docs/reproduce.md for how it was built) that no
//! public URL serves byte for byte: it is fetched only from a mirror the user names
//! (`--cnndm-url` or `POQ_CNNDM_URL`), checked against the same pin.

use super::{FetchError, Pinned, Scratch, check, copy_hashing, hex, io, matches, mb};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A data file poq can fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dataset {
    /// `squad` or `cnndm`.
    pub name: &'static str,
    /// Path under the data folder (the same as under `../shared/data`).
    pub file: &'static str,
    /// The public URL, when one serves the pinned file.
    pub url: Option<&'static str>,
    /// Environment variable that overrides the URL (a mirror).
    pub url_env: &'static str,
    /// Bytes.
    pub size: u64,
    /// sha256, lowercase hex.
    pub sha256: &'static str,
}

/// SQuAD v1.1 dev, the official file (CC BY-SA 4.0, Rajpurkar et al. 2016).
pub const SQUAD_DEV: Dataset = Dataset {
    name: "squad",
    file: "squad/dev-v1.1.json",
    url: Some("https://rajpurkar.github.io/SQuAD-explorer/dataset/dev-v1.1.json"),
    url_env: "POQ_SQUAD_URL",
    size: 4_854_279,
    sha256: "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9",
};

/// 250 CNN/DailyMail test articles with their highlights (the FRANK selection; no public URL).
pub const CNNDM_TEST: Dataset = Dataset {
    name: "cnndm",
    file: "cnndm/test-250.jsonl",
    url: None,
    url_env: "POQ_CNNDM_URL",
    size: 991_823,
    sha256: "3e2f915533a9aebac289e34c389c5f47417c9584d12627b2dbf4651e5590f6b0",
};

impl Dataset {
    /// Where the fetched copy lives under `data_dir`.
    pub fn path(&self, data_dir: &Path) -> PathBuf {
        data_dir.join(self.file)
    }

    fn pin(&self) -> Pinned {
        Pinned { path: self.file, size: Some(self.size), sha256: self.sha256 }
    }

    /// The fetched copy, when it is there with its pinned hash.
    pub fn present(&self, data_dir: &Path) -> Result<Option<PathBuf>, FetchError> {
        let path = self.path(data_dir);
        Ok(matches(&path, &self.pin())?.then_some(path))
    }

    /// The URL to fetch from: `given`, else the environment variable, else the public URL.
    pub fn url(&self, given: Option<&str>) -> Option<String> {
        given
            .map(str::to_owned)
            .or_else(|| std::env::var(self.url_env).ok().filter(|u| !u.trim().is_empty()))
            .or_else(|| self.url.map(str::to_owned))
    }

    /// Fetches the file into `data_dir` unless it is already there; returns its path.
    pub fn fetch(&self, data_dir: &Path, url: Option<&str>, progress: bool) -> Result<PathBuf, FetchError> {
        if let Some(p) = self.present(data_dir)? {
            return Ok(p);
        }
        let result = self.download(data_dir, url, progress);
        if let (Err(_), Some(parent)) = (&result, self.path(data_dir).parent()) {
            // Only an empty folder goes (remove_dir refuses others): no trace of a failed fetch.
            let _ = std::fs::remove_dir(parent);
        }
        result
    }

    fn download(&self, data_dir: &Path, url: Option<&str>, progress: bool) -> Result<PathBuf, FetchError> {
        let Some(url) = self.url(url) else {
            return Err(FetchError::NoUrl {
                name: self.name.to_owned(),
                hint: format!(
                    "pass --{} FILE, or --{}-url URL (or {}) of a mirror serving the file with sha256 {}",
                    self.name, self.name, self.url_env, self.sha256
                ),
            });
        };
        let dest = self.path(data_dir);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        if progress {
            eprintln!("[fetch] {}: GET {url} ({:.1} MB)", self.name, mb(self.size));
        }
        let partial = Scratch::partial_for(&dest);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(30)))
            // A stalled server must not hang a run forever; the file is a few MB.
            .timeout_recv_body(Some(Duration::from_secs(600)))
            .build()
            .into();
        let http = |detail: String| FetchError::Http { url: url.clone(), detail };
        let mut resp = agent.get(&url).call().map_err(|e| http(e.to_string()))?;
        let mut body = resp.body_mut().as_reader();
        let mut out = File::create(&partial.path).map_err(io(&partial.path))?;
        let mut h = Sha256::new();
        let n = copy_hashing(&mut body, &mut out, &mut [&mut h], &partial.path).map_err(|e| match e {
            // A read error is the connection's, not the file's.
            FetchError::Io { source, .. } if source.kind() != std::io::ErrorKind::StorageFull => {
                http(source.to_string())
            }
            e => e,
        })?;
        out.sync_all().map_err(io(&partial.path))?;
        drop(out);
        check(self.name, &url, Some(self.size), self.sha256, n, &hex(&h.finalize()))?;
        partial.commit(&dest)?;
        if progress {
            eprintln!("[fetch] ok: {} ({:.1} MB, sha256 verified)", dest.display(), mb(n));
        }
        Ok(dest)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// Serves `body` to every GET on a loopback port until the test ends; returns the base URL.
    pub(crate) fn serve(body: Vec<u8>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                // Read the request head up to the blank line.
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&body));
            }
        });
        format!("http://{addr}/data")
    }

    /// The shared copy when this machine has it (the real file, real pin), else a small fixture
    /// with its own pin.
    fn squad_like() -> (Dataset, Vec<u8>) {
        if let Some(bytes) = shared_squad() {
            return (SQUAD_DEV, bytes);
        }
        let body = br#"{"version":"1.1","data":[]}"#.to_vec();
        let sha: &'static str = hex(&Sha256::digest(&body)).leak();
        (Dataset { url: None, size: body.len() as u64, sha256: sha, ..SQUAD_DEV }, body)
    }

    fn shared_squad() -> Option<Vec<u8>> {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/squad/dev-v1.1.json");
        std::fs::read(p).ok()
    }

    #[test]
    fn fetches_over_http_checks_the_pin_and_keeps_the_copy() {
        let (ds, body) = squad_like();
        let url = serve(body.clone());
        let dir = tempfile::tempdir().unwrap();
        let path = ds.fetch(dir.path(), Some(&url), false).unwrap();
        assert_eq!(path, dir.path().join("squad/dev-v1.1.json"));
        assert_eq!(std::fs::read(&path).unwrap(), body);
        assert_eq!(ds.present(dir.path()).unwrap(), Some(path.clone()));
        // A second call finds the copy: no server needed.
        assert_eq!(ds.fetch(dir.path(), Some("http://127.0.0.1:9/unreachable"), false).unwrap(), path);
    }

    #[test]
    fn wrong_bytes_are_a_typed_error_and_leave_no_file() {
        let (ds, mut body) = squad_like();
        let last = body.len() - 2;
        body[last] ^= 0x20;
        let url = serve(body);
        let dir = tempfile::tempdir().unwrap();
        let e = ds.fetch(dir.path(), Some(&url), false).unwrap_err();
        match &e {
            FetchError::Checksum { name, file, expected, actual } => {
                assert_eq!((name.as_str(), file.as_str(), expected.as_str()), ("squad", url.as_str(), ds.sha256));
                assert_ne!(actual, expected);
            }
            other => panic!("expected a checksum error, got {other}"),
        }
        assert!(e.to_string().contains(ds.sha256), "{e}");
        // Neither the file nor its .partial, nor the folder made for them.
        assert!(!dir.path().join("squad").exists());
    }

    #[test]
    fn unreachable_server_is_an_http_error() {
        let (ds, _) = squad_like();
        let dir = tempfile::tempdir().unwrap();
        // Port 9 (discard) on loopback: nothing listens there in a test machine.
        let e = ds.fetch(dir.path(), Some("http://127.0.0.1:9/x"), false).unwrap_err();
        assert!(matches!(e, FetchError::Http { .. }), "{e}");
        assert!(!ds.path(dir.path()).exists() && !dir.path().join("squad").exists());
    }

    #[test]
    fn cnndm_needs_a_mirror() {
        let dir = tempfile::tempdir().unwrap();
        if std::env::var_os(CNNDM_TEST.url_env).is_some() {
            return; // a mirror is configured on this machine: the error cannot be seen
        }
        let e = CNNDM_TEST.fetch(dir.path(), None, false).unwrap_err();
        assert!(matches!(e, FetchError::NoUrl { .. }), "{e}");
        assert!(e.to_string().contains("--cnndm-url") && e.to_string().contains(CNNDM_TEST.sha256), "{e}");
    }
}
