"""Writes seeds/gguf/tiny-llama.gguf: a small valid GGUF v3 (llama metadata, a byte-level BPE
vocabulary, a chat template, one f32 tensor) so that the gguf fuzz target starts past the header."""
import struct, pathlib

def s(b): b = b.encode(); return struct.pack('<Q', len(b)) + b
def kv(k, t, v): return s(k) + struct.pack('<I', t) + v
def u32(x): return struct.pack('<I', x)
def arr_str(xs): return u32(8) + struct.pack('<Q', len(xs)) + b''.join(s(x) for x in xs)
def arr_i32(xs): return u32(5) + struct.pack('<Q', len(xs)) + b''.join(struct.pack('<i', x) for x in xs)

tokens = ["<|endoftext|>", "a", "b", "ab", "\u0120", "\u0120a"]
kvs = [
    kv("general.architecture", 8, s("llama")),
    kv("general.alignment", 4, u32(32)),
    kv("llama.context_length", 4, u32(64)),
    kv("llama.embedding_length", 4, u32(32)),
    kv("llama.block_count", 4, u32(1)),
    kv("llama.attention.head_count", 4, u32(2)),
    kv("llama.attention.head_count_kv", 4, u32(1)),
    kv("llama.feed_forward_length", 4, u32(32)),
    kv("llama.rope.dimension_count", 4, u32(16)),
    kv("llama.attention.layer_norm_rms_epsilon", 6, struct.pack('<f', 1e-5)),
    kv("tokenizer.ggml.model", 8, s("gpt2")),
    kv("tokenizer.ggml.tokens", 9, arr_str(tokens)),
    kv("tokenizer.ggml.token_type", 9, arr_i32([3, 1, 1, 1, 1, 1])),
    kv("tokenizer.ggml.merges", 9, arr_str(["a b", "\u0120 a"])),
    kv("tokenizer.ggml.eos_token_id", 4, u32(0)),
    kv("tokenizer.chat_template", 8, s("{% for m in messages %}{{ m.content }}{% endfor %}")),
]
# One tensor: token_embd.weight, f32 (ggml type 0), dims [32, 6] (innermost first), offset 0.
tensor = s("token_embd.weight") + u32(2) + struct.pack('<QQ', 32, 6) + u32(0) + struct.pack('<Q', 0)
head = b"GGUF" + u32(3) + struct.pack('<QQ', 1, len(kvs)) + b"".join(kvs) + tensor
head += b"\0" * (-len(head) % 32)
data = struct.pack('<192f', *([0.01] * 192))
out = pathlib.Path(__file__).parent / "gguf" / "tiny-llama.gguf"
out.parent.mkdir(exist_ok=True)
out.write_bytes(head + data)
