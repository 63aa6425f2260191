//! Matrix products over GGUF weights as they are stored: packed blocks of 4 to 8 bits, decoded in
//! registers next to the multiply, never expanded to f32 in memory.
//!
//! A decoding step multiplies every weight matrix by one activation row per sequence, so its cost
//! is reading the weights: a Q4_1 matrix is a sixth of the bytes of its f32 form. [`QMatrix`]
//! keeps a matrix's blocks (usually a view into the memory-mapped file) and offers
//! - [`QMatrix::matvecs`]: up to a few rows of activations (decoding steps), each weight row read
//!   once for all of them, rows split over rayon's threads;
//! - [`QMatrix::matmul`]: any number of rows; past [`MATVEC_ROWS`] (prompts) a tile of weight rows
//!   is decoded into cache-resident f32 and handed to gemm, so prompts run at gemm's speed;
//! - [`matvecs_many`]: several matrices against the same activations in one parallel pass (a
//!   layer's query, key and value products), one synchronization instead of three.
//!
//! Activations stay f32: answers are those of the dequantized f32 model up to rounding (the
//! Python reference's numbers). Sums run in one fixed order whatever the number of activation
//! rows (see `kernel`), so batched and one-at-a-time decoding pick the same tokens.
//!
//! The instruction set is picked at run time ([`Isa::detect`]): AVX-512, AVX2 with FMA, or a
//! portable path every CPU runs; [`QMatrix::with_isa`] forces one (tests run every path the
//! machine has).

mod formats;
mod int8;
mod kernel;
#[cfg(target_arch = "x86_64")]
mod simd;

use crate::error::{Error, Result};
use candle_core::quantized::GgmlDType;
use int8::Int8Rows;
use rayon::prelude::*;
use std::cell::RefCell;
use std::sync::Arc;

/// Activation rows up to which [`QMatrix::matmul`] reads the packed rows directly (decoding steps
/// of up to 16 sequences); more rows go through gemm on decoded tiles.
pub const MATVEC_ROWS: usize = 16;
/// Weight rows per parallel task of a matrix–vector product.
const ROWS_PER_TASK: usize = 16;
/// Weight rows decoded per gemm tile (a Qwen 0.5B tile of 896-wide rows is 224 KiB of f32).
const TILE_ROWS: usize = 64;

/// A packed block format of GGUF files.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// 32 four-bit values, one scale (18 bytes).
    Q4_0,
    /// 32 four-bit values, a scale and a minimum (20 bytes).
    Q4_1,
    /// 32 five-bit values, one scale (22 bytes).
    Q5_0,
    /// 32 five-bit values, a scale and a minimum (24 bytes).
    Q5_1,
    /// 32 signed bytes, one scale (34 bytes).
    Q8_0,
    /// 256 four-bit values in 8 groups with 6-bit scales and minimums (144 bytes).
    Q4_K,
    /// 256 five-bit values in 8 groups with 6-bit scales and minimums (176 bytes).
    Q5_K,
    /// 256 six-bit values in 16 groups with 8-bit scales (210 bytes).
    Q6_K,
}

impl Format {
    /// Every format, in GGML's order.
    pub const ALL: [Format; 8] = [
        Format::Q4_0,
        Format::Q4_1,
        Format::Q5_0,
        Format::Q5_1,
        Format::Q8_0,
        Format::Q4_K,
        Format::Q5_K,
        Format::Q6_K,
    ];

    /// The format of a GGML tensor type, if it is one of ours.
    pub fn of(dtype: GgmlDType) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.ggml() == dtype)
    }

    /// The GGML tensor type.
    pub fn ggml(self) -> GgmlDType {
        match self {
            Format::Q4_0 => GgmlDType::Q4_0,
            Format::Q4_1 => GgmlDType::Q4_1,
            Format::Q5_0 => GgmlDType::Q5_0,
            Format::Q5_1 => GgmlDType::Q5_1,
            Format::Q8_0 => GgmlDType::Q8_0,
            Format::Q4_K => GgmlDType::Q4K,
            Format::Q5_K => GgmlDType::Q5K,
            Format::Q6_K => GgmlDType::Q6K,
        }
    }

    /// Values per block.
    pub fn block_len(self) -> usize {
        self.paths().len
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        self.paths().bytes
    }

    fn paths(self) -> &'static Paths {
        match self {
            Format::Q4_0 => &paths::Q4_0,
            Format::Q4_1 => &paths::Q4_1,
            Format::Q5_0 => &paths::Q5_0,
            Format::Q5_1 => &paths::Q5_1,
            Format::Q8_0 => &paths::Q8_0,
            Format::Q4_K => &paths::Q4K,
            Format::Q5_K => &paths::Q5K,
            Format::Q6_K => &paths::Q6K,
        }
    }
}

/// The instruction set a product runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust, any CPU (multiply, then add).
    Portable,
    /// x86-64 AVX2 with FMA and F16C.
    Avx2,
    /// x86-64 AVX-512 (F, BW, VL) with FMA and F16C: the AVX2 path's operations in wider
    /// registers, so the same sums bit for bit.
    Avx512,
}

impl Isa {
    /// Every instruction set, portable first.
    pub const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2, Isa::Avx512];

    /// The widest one this CPU has.
    pub fn detect() -> Isa {
        [Isa::Avx512, Isa::Avx2].into_iter().find(|isa| isa.available()).unwrap_or(Isa::Portable)
    }

    /// Whether this CPU runs it.
    pub fn available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 =
                is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c");
            match self {
                Isa::Portable => true,
                Isa::Avx2 => avx2,
                Isa::Avx512 => {
                    avx2 && is_x86_feature_detected!("avx512f")
                        && is_x86_feature_detected!("avx512bw")
                        && is_x86_feature_detected!("avx512vl")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Isa::Portable
        }
    }
}

/// What the activations of a matrix–vector product are multiplied as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Activations {
    /// f32: the numbers of the dequantized f32 model, up to rounding.
    #[default]
    F32,
    /// Quantized to 8 bits per 32 values (scale max|x| / 127, rounded to nearest, ties to even)
    /// as llama.cpp quantizes them, then multiplied as integers: llama.cpp's arithmetic, which
    /// moves logits (and can flip near-tied greedy choices). Packed matrices on AVX2 or AVX-512
    /// only (four vectors and more run eight per pass on AVX-512 VNNI, far faster than f32);
    /// f32 matrices and the portable path keep f32 activations. A vector's results do not
    /// depend on the other vectors, on any of these paths.
    Int8,
}

/// Bytes owned by something that outlives the matrix: a memory map of the whole file, or a
/// buffer of its own.
#[derive(Clone)]
pub struct Bytes {
    owner: Arc<dyn AsRef<[u8]> + Send + Sync>,
    start: usize,
    len: usize,
}

impl Bytes {
    /// `len` bytes of `owner` from `start`.
    pub fn new(owner: Arc<dyn AsRef<[u8]> + Send + Sync>, start: usize, len: usize) -> Result<Bytes> {
        let total = (*owner).as_ref().len();
        if start.checked_add(len).is_none_or(|end| end > total) {
            return Err(Error::InvalidArgument {
                name: "bytes",
                message: format!("{len} bytes from {start} do not fit in {total}"),
            });
        }
        Ok(Bytes { owner, start, len })
    }

    /// All of `data`.
    pub fn owned(data: Vec<u8>) -> Bytes {
        let len = data.len();
        Bytes { owner: Arc::new(data), start: 0, len }
    }

    fn as_slice(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.start..self.start + self.len]
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

/// An IEEE half-precision value (its bits) as f32.
pub fn f16_to_f32(bits: u16) -> f32 {
    formats::f16_soft(bits)
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} from {})", self.len, self.start)
    }
}

#[derive(Debug)]
enum Storage {
    Packed {
        bytes: Bytes,
        format: Format,
    },
    /// f32 and f16 tensors (norms, small or unquantized files), any width.
    Dense(Vec<f32>),
}

/// A (rows, cols) weight matrix, row-major, in a GGUF block format or f32.
#[derive(Debug)]
pub struct QMatrix {
    storage: Storage,
    rows: usize,
    cols: usize,
    isa: Isa,
}

impl QMatrix {
    /// A matrix of `format` blocks: each row is `cols / block_len` whole blocks.
    pub fn packed(bytes: Bytes, format: Format, rows: usize, cols: usize) -> Result<QMatrix> {
        let invalid = |message: String| Error::InvalidArgument { name: "matrix", message };
        if rows == 0 || cols == 0 || !cols.is_multiple_of(format.block_len()) {
            return Err(invalid(format!(
                "({rows}, {cols}) {format:?}: rows of {cols} are not whole blocks of {}",
                format.block_len()
            )));
        }
        let want = rows.checked_mul(cols / format.block_len()).and_then(|b| b.checked_mul(format.block_bytes()));
        if want != Some(bytes.len) {
            return Err(invalid(format!("({rows}, {cols}) {format:?} needs {want:?} bytes, got {}", bytes.len)));
        }
        Ok(QMatrix { storage: Storage::Packed { bytes, format }, rows, cols, isa: Isa::detect() })
    }

    /// A matrix of f32 values.
    pub fn dense(values: Vec<f32>, rows: usize, cols: usize) -> Result<QMatrix> {
        if rows == 0 || cols == 0 || rows.checked_mul(cols) != Some(values.len()) {
            return Err(Error::InvalidArgument {
                name: "matrix",
                message: format!("{} values are not a ({rows}, {cols}) matrix", values.len()),
            });
        }
        Ok(QMatrix { storage: Storage::Dense(values), rows, cols, isa: Isa::detect() })
    }

    /// The same matrix on instruction set `isa` (an error if this CPU lacks it).
    pub fn with_isa(mut self, isa: Isa) -> Result<QMatrix> {
        if !isa.available() {
            return Err(Error::Unsupported(format!("this CPU lacks {isa:?}")));
        }
        self.isa = isa;
        Ok(self)
    }

    /// Output rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The block format, `None` for f32.
    pub fn format(&self) -> Option<Format> {
        match &self.storage {
            Storage::Packed { format, .. } => Some(*format),
            Storage::Dense(_) => None,
        }
    }

    /// Bytes the weights occupy.
    pub fn size_bytes(&self) -> usize {
        match &self.storage {
            Storage::Packed { bytes, .. } => bytes.len,
            Storage::Dense(v) => v.len() * 4,
        }
    }

    /// Writes row `r` as f32 into `out` (`cols` values).
    ///
    /// # Panics
    /// When `r` is not a row or `out` is not `cols` long (a caller's bug).
    pub fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        assert!(r < self.rows && out.len() == self.cols, "dequantize_row: shapes");
        self.decode_rows(r, out);
    }

    /// The whole matrix as f32, row-major.
    pub fn dequantize(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.rows * self.cols];
        self.decode_rows(0, &mut out);
        out
    }

    /// Decodes rows `first..` into `out` (whole rows).
    fn decode_rows(&self, first: usize, out: &mut [f32]) {
        match &self.storage {
            Storage::Dense(v) => out.copy_from_slice(&v[first * self.cols..][..out.len()]),
            Storage::Packed { bytes, format } => {
                let row_bytes = self.row_bytes(*format);
                let data = &bytes.as_slice()[first * row_bytes..][..out.len() / self.cols * row_bytes];
                // SAFETY: `self.isa` was checked available when it was set.
                unsafe { (format.paths().decode[self.isa as usize])(data, out) }
            }
        }
    }

    fn row_bytes(&self, format: Format) -> usize {
        self.cols / format.block_len() * format.block_bytes()
    }

    /// `out[k·rows + r] = Σ_c w[r, c] · xs[k·cols + c]` for the `n = xs.len() / cols` vectors of
    /// `xs`: the matrix–vector kernel whatever `n` (every weight row read once per pass of four
    /// vectors), the same sums for a vector whatever `n`.
    ///
    /// # Panics
    /// When the lengths do not fit these shapes (a caller's bug: shapes come from the model).
    pub fn matvecs(&self, xs: &[f32], out: &mut [f32]) {
        matvecs_many(&mut [(self, out)], xs);
    }

    /// `out = xs · wᵀ` for `xs` of (n, cols) and `out` of (n, rows): [`QMatrix::matvecs`] up to
    /// [`MATVEC_ROWS`] rows, else gemm over tiles of decoded weight rows.
    ///
    /// # Panics
    /// As [`QMatrix::matvecs`].
    pub fn matmul(&self, xs: &[f32], out: &mut [f32]) {
        let n = check_shapes(self, xs, out);
        if n <= MATVEC_ROWS {
            return self.matvecs(xs, out);
        }
        let (rows, cols) = (self.rows, self.cols);
        let dst = SharedOut::new(out);
        (0..rows.div_ceil(TILE_ROWS)).into_par_iter().for_each(|tile| {
            let first = tile * TILE_ROWS;
            let count = TILE_ROWS.min(rows - first);
            // SAFETY: `w` is (count, cols), `xs` is (n, cols) and the destination block (n rows,
            // columns first..first + count, row stride `rows`) lies inside `out`; tiles write
            // disjoint columns.
            let product = |w: &[f32]| unsafe {
                gemm_rows(n, count, cols, (dst.at(first), rows), (xs.as_ptr(), cols), (w.as_ptr(), cols), true, 1.0)
            };
            match &self.storage {
                Storage::Dense(v) => product(&v[first * cols..][..count * cols]),
                Storage::Packed { .. } => TILE.with_borrow_mut(|tile| {
                    tile.resize(count * cols, 0.0);
                    self.decode_rows(first, tile);
                    product(tile);
                }),
            }
        });
    }
}

/// The depth of one gemm call in [`gemm_rows`]: the `gemm` crate splits a longer depth into
/// blocks whose size depends on `m` and `n` as well, and the block boundaries decide the order
/// of each output's sums; at most this depth it takes one block whatever the shapes.
const GEMM_DEPTH: usize = 512;

/// `dst = scale · lhs · rhs`, or `scale · lhs · rhsᵀ` when `rhs_transposed`, on the calling
/// thread: `lhs` is (m, k), `rhs` (k, n) or, transposed, (n, k), `dst` (m, n). Each matrix is
/// given as its first element and the distance between its rows; the values of a row are
/// contiguous.
///
/// The depth runs in blocks of [`GEMM_DEPTH`] chosen from `k` alone, each added to `dst` in
/// turn, so an output's value does not depend on `m` or `n`: a row of a prompt gets the same
/// bits in a pass of any number of rows (what [`Decoder::start_many`] relies on).
///
/// [`Decoder::start_many`]: crate::gguf
///
/// # Safety
/// Every row of the three matrices must lie inside its allocation, and nothing else may touch
/// `dst`'s elements meanwhile.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_rows(
    m: usize,
    n: usize,
    k: usize,
    (dst, dst_stride): (*mut f32, usize),
    (lhs, lhs_stride): (*const f32, usize),
    (rhs, rhs_stride): (*const f32, usize),
    rhs_transposed: bool,
    scale: f32,
) {
    let (rhs_cs, rhs_rs) = if rhs_transposed { (rhs_stride, 1) } else { (1, rhs_stride) };
    for depth in (0..k.max(1)).step_by(GEMM_DEPTH) {
        let kc = GEMM_DEPTH.min(k - depth);
        let first = depth == 0;
        // SAFETY: the caller's contract; gemm reads and writes only inside the shapes given, and
        // the block starts `depth` columns into `lhs` and `depth` rows (as `rhs` is read) into `rhs`.
        unsafe {
            gemm::gemm(
                m,
                n,
                kc,
                dst,
                1,
                dst_stride as isize,
                !first,
                lhs.add(depth),
                1,
                lhs_stride as isize,
                rhs.offset(depth as isize * rhs_rs as isize),
                rhs_cs as isize,
                rhs_rs as isize,
                if first { 0.0 } else { 1.0 },
                scale,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        }
    }
}

thread_local! {
    /// Each thread's decoded tile for [`QMatrix::matmul`].
    static TILE: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// A destination written by several tasks at disjoint places.
#[derive(Clone, Copy)]
pub(crate) struct SharedOut(*mut f32);

// SAFETY: the tasks that share it write disjoint elements (each caller says which).
unsafe impl Send for SharedOut {}
// SAFETY: as above.
unsafe impl Sync for SharedOut {}

impl SharedOut {
    pub(crate) fn new(out: &mut [f32]) -> SharedOut {
        SharedOut(out.as_mut_ptr())
    }

    /// Element `offset` of the destination.
    pub(crate) fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// The number of vectors in `xs`, after checking that `xs` and `out` fit `m`.
fn check_shapes(m: &QMatrix, xs: &[f32], out: &[f32]) -> usize {
    assert!(xs.len().is_multiple_of(m.cols), "matvecs: {} inputs are not rows of {}", xs.len(), m.cols);
    let n = xs.len() / m.cols;
    assert_eq!(out.len(), n * m.rows, "matvecs: output length");
    n
}

/// [`QMatrix::matvecs`] of every `(matrix, out)` pair against the same `xs`, as one parallel
/// pass over all their rows.
///
/// # Panics
/// When a pair's shapes do not fit `xs` (every matrix must have `xs`'s width).
pub fn matvecs_many(jobs: &mut [(&QMatrix, &mut [f32])], xs: &[f32]) {
    matvecs_many_with(jobs, xs, Activations::F32)
}

/// [`matvecs_many`] with the activations multiplied as `activations` says (where a matrix can:
/// see [`Activations::Int8`]).
///
/// # Panics
/// As [`matvecs_many`].
pub fn matvecs_many_with(jobs: &mut [(&QMatrix, &mut [f32])], xs: &[f32], activations: Activations) {
    products(jobs, xs, activations, None)
}

/// The kernels of [`Activations::Int8`] products (see `int8`): the same bits from each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Int8Kernel {
    /// Byte products by `maddubs`, up to four vectors per pass (AVX2).
    Direct,
    /// Byte products by VNNI's `dpbusd`, up to four vectors per pass (AVX-512 VNNI).
    DirectVnni,
    /// Eight vectors per pass in the activations' lane layout (AVX-512 VNNI).
    Lanes,
}

/// Vectors from which [`Int8Kernel::Lanes`] is chosen: below, its pass over eight lanes does
/// more than the direct kernel's per-vector work.
const LANES_FROM: usize = 4;

/// Whether this CPU has AVX-512 VNNI (on top of [`Isa::Avx512`]).
fn vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    return is_x86_feature_detected!("avx512vnni");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The 8-bit kernel a matrix on `isa` runs for `n` vectors (`None`: f32 activations), or the
/// one a test forces.
fn int8_kernel(isa: Isa, n: usize, forced: Option<Int8Kernel>) -> Option<Int8Kernel> {
    match isa {
        Isa::Portable => None,
        Isa::Avx2 => Some(Int8Kernel::Direct),
        Isa::Avx512 if !vnni() => Some(Int8Kernel::Direct),
        Isa::Avx512 => Some(forced.unwrap_or(if n >= LANES_FROM { Int8Kernel::Lanes } else { Int8Kernel::DirectVnni })),
    }
}

/// [`matvecs_many_with`], with the 8-bit kernel forced where the matrix's instruction set can run
/// it (tests).
pub(crate) fn products(
    jobs: &mut [(&QMatrix, &mut [f32])],
    xs: &[f32],
    activations: Activations,
    forced: Option<Int8Kernel>,
) {
    let mut tasks = Vec::new();
    let mut outs = Vec::with_capacity(jobs.len());
    for (j, (m, out)) in jobs.iter_mut().enumerate() {
        let n = check_shapes(m, xs, out);
        outs.push((SharedOut::new(out), n));
        tasks.extend((0..m.rows).step_by(ROWS_PER_TASK).map(|first| (j, first)));
    }
    let Some(&(_, n)) = outs.first() else { return };
    if n == 0 {
        return;
    }
    // Each job's 8-bit kernel; `None`: f32 activations.
    let kernels: Vec<Option<Int8Kernel>> = jobs
        .iter()
        .map(|(m, _)| {
            let packed = activations == Activations::Int8 && m.format().is_some();
            packed.then(|| int8_kernel(m.isa, n, forced)).flatten()
        })
        .collect();
    // Quantized once for every matrix that reads them (all share `xs`, so one width).
    #[cfg(target_arch = "x86_64")]
    let int8 = kernels.iter().position(Option::is_some).map(|j| {
        let lanes = kernels.contains(&Some(Int8Kernel::Lanes));
        // SAFETY: an 8-bit kernel is chosen only where the CPU has AVX2.
        unsafe { Int8Rows::new(xs, jobs[j].0.cols, lanes) }
    });
    // Off x86-64 no 8-bit kernel is ever chosen.
    #[cfg(not(target_arch = "x86_64"))]
    let int8: Option<Int8Rows> = None;
    let jobs = &*jobs;
    let (outs, kernels) = (&outs, &kernels);
    tasks.into_par_iter().for_each(|(j, first)| {
        let (m, (dst, n)) = (jobs[j].0, outs[j]);
        let count = ROWS_PER_TASK.min(m.rows - first);
        // (count, n): each row's dots, then scattered to (n, rows).
        let mut sums = [0f32; ROWS_PER_TASK * MATVEC_ROWS];
        let mut heap = Vec::new();
        let sums: &mut [f32] = if count * n <= sums.len() {
            &mut sums[..count * n]
        } else {
            heap.resize(count * n, 0.0);
            &mut heap
        };
        match &m.storage {
            Storage::Packed { bytes, format } => {
                let row_bytes = m.row_bytes(*format);
                let data = &bytes.as_slice()[first * row_bytes..][..count * row_bytes];
                let paths = format.paths();
                match int8.as_ref().zip(kernels[j]) {
                    // SAFETY: Lanes is chosen only on AVX-512 with VNNI, and then `q` was
                    // made with lanes.
                    Some((q, Int8Kernel::Lanes)) => unsafe { (paths.int8_lanes)(data, row_bytes, q, sums) },
                    // SAFETY: as below, and VNNI was detected.
                    Some((q, Int8Kernel::DirectVnni)) => unsafe { (paths.int8_vnni)(data, row_bytes, q, sums) },
                    // SAFETY: `m.isa` was checked available when it was set; a kernel is chosen
                    // only for AVX2 or AVX-512.
                    Some((q, Int8Kernel::Direct)) => unsafe { (paths.int8[m.isa as usize])(data, row_bytes, q, sums) },
                    // SAFETY: as above.
                    None => unsafe { (paths.rows[m.isa as usize])(data, row_bytes, xs, m.cols, sums) },
                }
            }
            Storage::Dense(v) => {
                let data = &v[first * m.cols..][..count * m.cols];
                // SAFETY: as above.
                unsafe { (paths::DENSE[m.isa as usize])(data, xs, m.cols, sums) }
            }
        }
        for (i, row) in sums.chunks(n).enumerate() {
            for (k, &s) in row.iter().enumerate() {
                // SAFETY: element (k, first + i) of this job's (n, rows) output: inside it, and
                // written by this task only (tasks own disjoint rows).
                unsafe { *dst.at(k * m.rows + first + i) = s };
            }
        }
    });
}

/// The compiled kernels of one format, by [`Isa`] (index = `Isa as usize`).
struct Paths {
    len: usize,
    bytes: usize,
    /// `(rows' bytes, bytes per row, xs, cols, out (rows, n))`.
    rows: [RowsFn; 3],
    /// `(whole rows' bytes, out)`.
    decode: [DecodeFn; 3],
    /// As `rows` for 8-bit activations ([`Int8Kernel::Direct`]); the portable entry is never
    /// called.
    int8: [RowsInt8Fn; 3],
    /// [`Int8Kernel::DirectVnni`] and [`Int8Kernel::Lanes`] (AVX-512 VNNI).
    int8_vnni: RowsInt8Fn,
    int8_lanes: RowsInt8Fn,
}

type RowsFn = unsafe fn(&[u8], usize, &[f32], usize, &mut [f32]);
type DecodeFn = unsafe fn(&[u8], &mut [f32]);
type RowsInt8Fn = unsafe fn(&[u8], usize, &Int8Rows, &mut [f32]);
type DenseFn = unsafe fn(&[f32], &[f32], usize, &mut [f32]);

/// One function per (format, instruction set), each compiled with that set's features so the
/// generic kernels inline into vector code.
mod paths {
    use super::formats::{self, Block};
    use super::{DenseFn, Paths, kernel};

    // Inlined into each instruction set's wrapper below, so that the whole loop is compiled with
    // that set's features.
    #[inline(always)]
    fn rows<B: Block, const FMA: bool, const F16C: bool, const SIMD: u8>(
        data: &[u8],
        row_bytes: usize,
        xs: &[f32],
        cols: usize,
        out: &mut [f32],
    ) {
        let n = xs.len() / cols;
        for (row, dst) in data.chunks_exact(row_bytes).zip(out.chunks_exact_mut(n)) {
            kernel::row_into::<B, FMA, F16C, SIMD>(row, xs, cols, dst);
        }
    }

    #[inline(always)]
    fn dense<const FMA: bool>(data: &[f32], xs: &[f32], cols: usize, out: &mut [f32]) {
        let n = xs.len() / cols;
        for (row, dst) in data.chunks_exact(cols).zip(out.chunks_exact_mut(n)) {
            kernel::dense_row_into::<FMA>(row, xs, dst);
        }
    }

    macro_rules! isa_fns {
        ($rows:ident, $decode:ident, $int8:ident, $dense:ident, $simd:literal, $features:literal) => {
            /// # Safety
            /// The CPU must have the features this is compiled for.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = $features)]
            unsafe fn $rows<B: Block>(data: &[u8], row_bytes: usize, xs: &[f32], cols: usize, out: &mut [f32]) {
                rows::<B, true, true, $simd>(data, row_bytes, xs, cols, out)
            }
            /// # Safety
            /// As above.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = $features)]
            unsafe fn $decode<B: Block>(data: &[u8], out: &mut [f32]) {
                // SAFETY: compiled with AVX2, FMA and F16C (the caller's contract).
                unsafe { super::simd::decode::<B>(data, out) }
            }
            /// # Safety
            /// As above.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = $features)]
            unsafe fn $int8<B: Block>(data: &[u8], row_bytes: usize, xs: &super::Int8Rows, out: &mut [f32]) {
                // SAFETY: compiled with AVX2, FMA and F16C (the caller's contract).
                unsafe { super::int8::rows_direct::<B, false>(data, row_bytes, xs, out) }
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = $features)]
            unsafe fn $dense(data: &[f32], xs: &[f32], cols: usize, out: &mut [f32]) {
                dense::<true>(data, xs, cols, out)
            }
        };
    }
    isa_fns!(rows_avx2, decode_avx2, int8_avx2, dense_avx2, 1, "avx2,fma,f16c");
    isa_fns!(rows_avx512, decode_avx512, int8_avx512, dense_avx512, 2, "avx512f,avx512bw,avx512vl,avx2,fma,f16c");

    /// # Safety
    /// The CPU must have AVX-512 (F, BW, VL) with VNNI, AVX2, FMA and F16C.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    unsafe fn int8_vnni<B: Block>(data: &[u8], row_bytes: usize, xs: &super::Int8Rows, out: &mut [f32]) {
        // SAFETY: compiled with those features (the caller's contract).
        unsafe { super::int8::rows_direct::<B, true>(data, row_bytes, xs, out) }
    }

    /// # Safety
    /// As [`int8_vnni`]; `xs` has lanes.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")]
    unsafe fn int8_lanes<B: Block>(data: &[u8], row_bytes: usize, xs: &super::Int8Rows, out: &mut [f32]) {
        // SAFETY: compiled with those features (the caller's contract).
        unsafe { super::int8::rows_lanes::<B>(data, row_bytes, xs, out) }
    }

    /// Never called: 8-bit kernels are chosen only on x86-64 with AVX2 or AVX-512.
    #[cfg(not(target_arch = "x86_64"))]
    unsafe fn int8_none<B: Block>(_: &[u8], _: usize, _: &super::Int8Rows, _: &mut [f32]) {
        unreachable!("8-bit activations off x86-64")
    }

    const fn paths<B: Block>() -> Paths {
        #[cfg(target_arch = "x86_64")]
        return Paths {
            len: B::LEN,
            bytes: B::BYTES,
            rows: [rows::<B, false, false, 0>, rows_avx2::<B>, rows_avx512::<B>],
            decode: [formats::decode::<B, false, false>, decode_avx2::<B>, decode_avx512::<B>],
            int8: [int8_avx2::<B>, int8_avx2::<B>, int8_avx512::<B>],
            int8_vnni: int8_vnni::<B>,
            int8_lanes: int8_lanes::<B>,
        };
        // Off x86-64 only the portable entries are ever chosen (`Isa::available`).
        #[cfg(not(target_arch = "x86_64"))]
        Paths {
            len: B::LEN,
            bytes: B::BYTES,
            rows: [rows::<B, false, false, 0>; 3],
            decode: [formats::decode::<B, false, false>; 3],
            int8: [int8_none::<B>; 3],
            int8_vnni: int8_none::<B>,
            int8_lanes: int8_none::<B>,
        }
    }

    #[cfg(target_arch = "x86_64")]
    pub(super) static DENSE: [DenseFn; 3] = [dense::<false>, dense_avx2, dense_avx512];
    #[cfg(not(target_arch = "x86_64"))]
    pub(super) static DENSE: [DenseFn; 3] = [dense::<false>; 3];

    pub(super) static Q4_0: Paths = paths::<formats::Q4_0>();
    pub(super) static Q4_1: Paths = paths::<formats::Q4_1>();
    pub(super) static Q5_0: Paths = paths::<formats::Q5_0>();
    pub(super) static Q5_1: Paths = paths::<formats::Q5_1>();
    pub(super) static Q8_0: Paths = paths::<formats::Q8_0>();
    pub(super) static Q4K: Paths = paths::<formats::Q4K>();
    pub(super) static Q5K: Paths = paths::<formats::Q5K>();
    pub(super) static Q6K: Paths = paths::<formats::Q6K>();
}

#[cfg(test)]
mod tests;
