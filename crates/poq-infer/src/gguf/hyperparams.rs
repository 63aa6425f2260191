//! Bounds on the `<arch>.*` hyperparameters that candle sizes buffers from, checked against the
//! tensor table before any tensor is built. A hostile header must not make the loader reserve
//! gigabytes (fuzz-found: `llama.rope.dimension_count` = 2^31, a context length of 2^30) or divide
//! by zero: candle aborts the process on such an allocation instead of returning an error.

use super::metadata::Metadata;
use crate::error::Result;
use candle_core::quantized::gguf_file::{Content, Value};

/// Longest context we build rotary tables for (2^20 positions; real models declare up to 2^17).
pub const MAX_CONTEXT: usize = 1 << 20;
/// Widest attention head accepted (real models use 64–256).
const MAX_HEAD_DIM: usize = 1024;
/// Largest rotary table (cos or sin, f32 elements) a header may ask for: 512 MiB.
const MAX_ROPE_TABLE: usize = 1 << 27;

/// The shapes a GGUF model declares, once they are known to be consistent and bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hyperparams {
    /// `<arch>.block_count`.
    pub blocks: usize,
    /// `<arch>.embedding_length`.
    pub embedding: usize,
    /// `<arch>.attention.head_count`.
    pub heads: usize,
    /// `<arch>.attention.head_count_kv`.
    pub kv_heads: usize,
    /// Per-head width of queries, keys and values: `<arch>.attention.key_length` when declared
    /// (Gemma 3's heads are wider than `embedding_length / head_count`), else that quotient.
    pub head_dim: usize,
    /// `<arch>.context_length`, when declared.
    pub context: Option<usize>,
}

/// Checks the hyperparameters of `arch` in `md` against each other and against `content`'s tensors.
pub fn check(md: &Metadata<'_>, content: &Content, arch: &str) -> Result<Hyperparams> {
    let key = |name: &str| format!("{arch}.{name}");
    let required = |name: &str| -> Result<usize> {
        let k = key(name);
        md.opt_u32(&k)?.map(|v| v as usize).ok_or_else(|| md.error(&k, "missing metadata key"))
    };
    let n_tensors = content.tensor_infos.len();

    let embedding = required("embedding_length")?;
    let embd =
        content.tensor_infos.get("token_embd.weight").ok_or_else(|| md.error("token_embd.weight", "missing tensor"))?;
    if embd.shape.dims().last() != Some(&embedding) {
        return Err(md.error(
            &key("embedding_length"),
            format!("is {embedding} but token_embd.weight has shape {:?}", embd.shape.dims()),
        ));
    }
    let heads = required("attention.head_count")?;
    let key_length = md.opt_u32(&key("attention.key_length"))?.map(|d| d as usize);
    if heads == 0 || (key_length.is_none() && embedding % heads != 0) {
        return Err(
            md.error(&key("attention.head_count"), format!("{heads} does not divide embedding_length {embedding}"))
        );
    }
    let head_dim = key_length.unwrap_or(embedding / heads);
    // Keys and values share one width in every architecture we run.
    let value_length = md.opt_u32(&key("attention.value_length"))?.map_or(head_dim, |d| d as usize);
    if head_dim == 0 || head_dim > MAX_HEAD_DIM || value_length != head_dim {
        return Err(md.error(
            &key("attention.key_length"),
            format!("head width {head_dim} (values {value_length}) must be equal and in 1..={MAX_HEAD_DIM}"),
        ));
    }
    let kv_heads = required("attention.head_count_kv")?;
    if kv_heads == 0 || heads % kv_heads != 0 {
        return Err(md.error(&key("attention.head_count_kv"), format!("{kv_heads} does not divide head_count {heads}")));
    }
    // candle reserves one entry per block (and per expert) before reading their tensors.
    let blocks = required("block_count")?;
    if blocks == 0 || blocks > n_tensors {
        return Err(md.error(&key("block_count"), format!("{blocks} blocks but the file has {n_tensors} tensors")));
    }
    if let Some(experts) = md.opt_u32(&key("expert_count"))?
        && experts as usize > n_tensors
    {
        return Err(md.error(&key("expert_count"), format!("{experts} experts but the file has {n_tensors} tensors")));
    }

    let rope_dim = md.opt_u32(&key("rope.dimension_count"))?.map_or(head_dim, |d| d as usize);
    if rope_dim == 0 || rope_dim > head_dim || rope_dim % 2 != 0 {
        return Err(md.error(
            &key("rope.dimension_count"),
            format!("{rope_dim} must be even and at most the head width {head_dim}"),
        ));
    }
    let context = md.opt_u32(&key("context_length"))?.map(|c| c as usize);
    if let Some(ctx) = context
        && (ctx == 0 || ctx > MAX_CONTEXT || ctx * (rope_dim / 2) > MAX_ROPE_TABLE)
    {
        return Err(md.error(
            &key("context_length"),
            format!("{ctx} is outside 1..={MAX_CONTEXT} or needs a rotary table over {MAX_ROPE_TABLE} entries"),
        ));
    }
    Ok(Hyperparams { blocks, embedding, heads, kv_heads, head_dim, context })
}

/// Largest key/value cache candle's Phi-3 may reserve: it allocates the whole declared context
/// on the first token, so a 128k-context file would ask for about 100 GB.
const PHI3_CACHE_BYTES: usize = 4 << 30;

/// The context length to use; for Phi-3 it is capped so its preallocated f32 cache stays under
/// `PHI3_CACHE_BYTES` (4 GiB), and the cap is written back into the metadata candle reads.
pub fn cap_phi3_context(content: &mut Content, architecture: &str, shapes: Hyperparams) -> Option<usize> {
    let ctx = shapes.context?;
    if architecture != "phi3" {
        return Some(ctx);
    }
    let per_position = shapes.blocks * 2 * shapes.kv_heads * shapes.head_dim * std::mem::size_of::<f32>();
    let capped = ctx.min((PHI3_CACHE_BYTES / per_position.max(1)).max(1));
    content.metadata.insert("phi3.context_length".into(), Value::U32(capped as u32));
    Some(capped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::GgmlDType;
    use candle_core::quantized::gguf_file::{TensorInfo, VersionedMagic};
    use std::path::Path;

    /// A header shaped like SmolLM2-135M: 9 heads of 64, 3 KV heads, 30 blocks.
    fn header(arch: &str, edits: &[(&str, Option<u32>)]) -> Content {
        let mut metadata: std::collections::HashMap<String, Value> = [
            ("embedding_length", 576),
            ("attention.head_count", 9),
            ("attention.head_count_kv", 3),
            ("block_count", 30),
            ("rope.dimension_count", 64),
            ("context_length", 8192),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{arch}.{k}"), Value::U32(v)))
        .collect();
        for (k, v) in edits {
            match v {
                Some(v) => metadata.insert(format!("{arch}.{k}"), Value::U32(*v)),
                None => metadata.remove(&format!("{arch}.{k}")),
            };
        }
        let info = |dims: Vec<usize>| TensorInfo { ggml_dtype: GgmlDType::F32, shape: dims.into(), offset: 0 };
        let mut tensor_infos: std::collections::HashMap<String, TensorInfo> =
            (0..30).map(|i| (format!("blk.{i}.attn_q.weight"), info(vec![576, 576]))).collect();
        tensor_infos.insert("token_embd.weight".into(), info(vec![49152, 576]));
        Content { magic: VersionedMagic::GgufV3, metadata, tensor_infos, tensor_data_offset: 0 }
    }

    fn check_err(arch: &str, edits: &[(&str, Option<u32>)]) -> String {
        let content = header(arch, edits);
        let md = Metadata::new(&content, Path::new("m.gguf"));
        check(&md, &content, arch).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn a_consistent_header_passes() {
        let content = header("llama", &[]);
        let md = Metadata::new(&content, Path::new("m.gguf"));
        let h = check(&md, &content, "llama").unwrap();
        assert_eq!((h.blocks, h.embedding, h.heads, h.kv_heads, h.context), (30, 576, 9, 3, Some(8192)));
        assert_eq!(h.head_dim, 64);
    }

    #[test]
    fn each_bad_size_is_named() {
        for (edits, key) in [
            (vec![("rope.dimension_count", Some(1 << 31))], "llama.rope.dimension_count"),
            (vec![("rope.dimension_count", Some(63))], "llama.rope.dimension_count"),
            (vec![("context_length", Some(1 << 30))], "llama.context_length"),
            (vec![("context_length", Some(0))], "llama.context_length"),
            (vec![("block_count", Some(1 << 30))], "llama.block_count"),
            (vec![("expert_count", Some(1 << 30))], "llama.expert_count"),
            (vec![("attention.head_count", Some(0))], "llama.attention.head_count"),
            (vec![("attention.head_count", Some(7))], "llama.attention.head_count"),
            (vec![("attention.head_count_kv", Some(2))], "llama.attention.head_count_kv"),
            (vec![("embedding_length", Some(1152))], "llama.embedding_length"),
            (vec![("block_count", None)], "llama.block_count"),
            (vec![("attention.key_length", Some(4096))], "llama.attention.key_length"),
            (
                vec![("attention.key_length", Some(64)), ("attention.value_length", Some(32))],
                "llama.attention.key_length",
            ),
        ] {
            let msg = check_err("llama", &edits);
            assert!(msg.contains(key) && msg.contains("m.gguf"), "{edits:?}: {msg}");
        }
    }

    #[test]
    fn phi3_context_is_capped_to_a_bounded_cache() {
        // Phi-3-mini-128k: 32 blocks, 32 heads of 96; its whole-context cache would be ~100 GB.
        let mut content = header("phi3", &[("embedding_length", Some(3072)), ("attention.head_count", Some(32))]);
        content.metadata.insert("phi3.context_length".into(), Value::U32(131_072));
        let shapes =
            Hyperparams { blocks: 32, embedding: 3072, heads: 32, kv_heads: 32, head_dim: 96, context: Some(131_072) };
        let capped = cap_phi3_context(&mut content, "phi3", shapes).unwrap();
        assert_eq!(capped, 5461);
        assert!(matches!(content.metadata["phi3.context_length"], Value::U32(5461)));
        // Phi-3-mini-4k keeps its 4096, other architectures keep what they declare.
        assert_eq!(cap_phi3_context(&mut content, "phi3", Hyperparams { context: Some(4096), ..shapes }), Some(4096));
        assert_eq!(cap_phi3_context(&mut content, "llama", shapes), Some(131_072));
    }
}
