/**
 * WGSL kernels of the compiled WebGPU training step (./plan.ts). Every kernel is generated for one shape: sizes,
 * strides and padding are constants in the source, so a dispatch needs no uniform buffer and the shader compiler
 * folds the index arithmetic. Tensors are NHWC float32 in `array<f32>` storage buffers; parameters, gradients and
 * statistics are slices of flat buffers, bound with an offset (see ./plan.ts).
 *
 * Convolutions are implicit GEMMs, C[M, N] = Σ_r A[m, r]·B[r, n], with A gathered from the activation tensor on the
 * fly (no im2col buffer):
 *
 *   forward           M = N·Ho·Wo output pixels, N = Cout, R = KH·KW·Cin;   A = input patches, B = filter
 *   input gradient    M = N·H·W input pixels,   N = Cin,  R = KH·KW·Cout;  A = dy gathered at (h + pad − kh)/stride
 *                     (taps that fall between output pixels of a strided conv read 0), B = filter transposed
 *   filter gradient   M = KH·KW·Cin,            N = Cout, R = N·Ho·Wo;      A = input patches transposed, B = dy;
 *                     split-K: the long reduction over pixels is cut into S chunks, one partial tile per chunk,
 *                     then a fixed-order sum of the S partials (deterministic)
 *
 * A workgroup of 16×16 threads computes a TM×TN tile (TM = 16·RM, TN = 16·RN; each thread an RM×RN register tile),
 * stepping through R in slices of TR = 16 held in workgroup memory. Loads walk the operand's contiguous axis with
 * consecutive threads (channels are innermost in NHWC and in the [KH, KW, Cin, Cout] filter).
 *
 * Batch norm (training) works per channel over the R = N·H·W rows of [R, C]: a statistics pass writes per-chunk
 * (mean, M2) partials (two passes over the chunk, so the variance has no E[x²] − E[x]² cancellation), a one-workgroup
 * pass combines them (Chan et al.'s parallel variance) into the batch mean and 1/√(var + eps) and updates the running
 * statistics (PyTorch: momentum, unbiased running variance), and an elementwise pass applies it, adding the residual
 * (identity, or option A: the input subsampled by 2 and zero-padded in channels) and the ReLU. The backward pass is
 * the same shape: per-chunk sums of dy' and dy'·x̂ (dy' = dy masked by the ReLU), their total (= the gradients of
 * β and γ), then dx = γ·invstd·(dy' − Σdy'/R − x̂·Σdy'x̂/R) elementwise, writing dy' out as the residual's gradient.
 */

/** Threads per workgroup of the elementwise and reduction kernels. */
export const WG = 256;
/** Largest number of workgroups an elementwise kernel is dispatched with (grid-stride loops cover the rest). */
export const MAX_GROUPS = 4096;

const u = (n: number) => `${n >>> 0}u`;
const f = (x: number) => {
  const s = String(x);
  return /[.eE]/.test(s) ? s : `${s}.0`;
};

/** Tile shape of a GEMM: RM×RN outputs per thread, TM = 16·RM rows and TN = 16·RN columns per workgroup. */
export interface Tile {
  rm: number;
  rn: number;
}

/** Tile for N output columns: RN covers N in up to 4 steps of 16, RM keeps the tile near 4,096 outputs. */
export function chooseTile(n: number): Tile {
  const rn = Math.min(4, Math.max(1, Math.ceil(n / 16)));
  const rm = rn >= 4 ? 4 : 8;
  return { rm, rn };
}

export const TR = 16;

export interface ConvShape {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
  ho: number;
  wo: number;
}

export function convOut(h: number, k: number, stride: number, pad: number): number {
  return Math.floor((h + 2 * pad - k) / stride) + 1;
}

interface GemmSource {
  /** Rows, columns, reduction length. */
  M: number;
  N: number;
  R: number;
  tile: Tile;
  /** Binding declarations (after the shared ones). */
  bindings: string;
  /** Body computing `v` (f32) for row `m` and reduction index `r` (both u32, in range). */
  loadA: string;
  /** Body computing `v` for reduction index `r` and column `n`. */
  loadB: string;
  /** Which index of A / B is contiguous in memory (consecutive threads load along it). */
  aFast: 'm' | 'r';
  bFast: 'r' | 'n';
  /** Statement storing `acc` for row `m`, column `n` (and split `s`). */
  store: string;
  /** Reduction chunk per workgroup z (split-K); R when not split. */
  chunk: number;
}

function gemm(g: GemmSource): string {
  const { rm, rn } = g.tile;
  const TM = 16 * rm;
  const TN = 16 * rn;
  const aLoads = (TR * TM) / 256;
  const bLoads = (TR * TN) / 256;
  const aIdx =
    g.aFast === 'r'
      ? `let rr = e % ${u(TR)}; let mm = e / ${u(TR)};`
      : `let mm = e % ${u(TM)}; let rr = e / ${u(TM)};`;
  const bIdx =
    g.bFast === 'n'
      ? `let nn = e % ${u(TN)}; let rr = e / ${u(TN)};`
      : `let rr = e % ${u(TR)}; let nn = e / ${u(TR)};`;
  return `
${g.bindings}
var<workgroup> As : array<f32, ${TR * TM}>;
var<workgroup> Bs : array<f32, ${TR * TN}>;

fn loadA(m : u32, r : u32) -> f32 {
  var v = 0.0;
  ${g.loadA}
  return v;
}
fn loadB(r : u32, n : u32) -> f32 {
  var v = 0.0;
  ${g.loadB}
  return v;
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let tx = lid % 16u;
  let ty = lid / 16u;
  let n0 = wg.x * ${u(TN)};
  let m0 = wg.y * ${u(TM)};
  let s = wg.z;
  let rBegin = s * ${u(g.chunk)};
  let rEnd = min(${u(g.R)}, rBegin + ${u(g.chunk)});
  var acc : array<f32, ${rm * rn}>;
  for (var i = 0u; i < ${u(rm * rn)}; i++) { acc[i] = 0.0; }
  for (var r0 = rBegin; r0 < rEnd; r0 += ${u(TR)}) {
    for (var l = 0u; l < ${u(aLoads)}; l++) {
      let e = lid + l * 256u;
      ${aIdx}
      let m = m0 + mm;
      let r = r0 + rr;
      var v = 0.0;
      if (m < ${u(g.M)} && r < rEnd) { v = loadA(m, r); }
      As[rr * ${u(TM)} + mm] = v;
    }
    for (var l = 0u; l < ${u(bLoads)}; l++) {
      let e = lid + l * 256u;
      ${bIdx}
      let n = n0 + nn;
      let r = r0 + rr;
      var v = 0.0;
      if (n < ${u(g.N)} && r < rEnd) { v = loadB(r, n); }
      Bs[rr * ${u(TN)} + nn] = v;
    }
    workgroupBarrier();
    for (var rr = 0u; rr < ${u(TR)}; rr++) {
      var a : array<f32, ${rm}>;
      var b : array<f32, ${rn}>;
      for (var i = 0u; i < ${u(rm)}; i++) { a[i] = As[rr * ${u(TM)} + ty + 16u * i]; }
      for (var j = 0u; j < ${u(rn)}; j++) { b[j] = Bs[rr * ${u(TN)} + tx + 16u * j]; }
      for (var i = 0u; i < ${u(rm)}; i++) {
        for (var j = 0u; j < ${u(rn)}; j++) {
          acc[i * ${u(rn)} + j] = fma(a[i], b[j], acc[i * ${u(rn)} + j]);
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${u(rm)}; i++) {
    let m = m0 + ty + 16u * i;
    for (var j = 0u; j < ${u(rn)}; j++) {
      let n = n0 + tx + 16u * j;
      if (m < ${u(g.M)} && n < ${u(g.N)}) {
        let a = acc[i * ${u(rn)} + j];
        ${g.store}
      }
    }
  }
}`;
}

/** The input patch element x[n, ho·s − p + kh, wo·s − p + kw, ci] for output pixel `pix` and filter index `kidx`. */
function patch(c: ConvShape, pix: string, kidx: string): string {
  return `
  let pn = ${pix} / ${u(c.ho * c.wo)};
  let pp = ${pix} % ${u(c.ho * c.wo)};
  let tap = ${kidx} / ${u(c.cin)};
  let ci = ${kidx} % ${u(c.cin)};
  let hi = i32((pp / ${u(c.wo)}) * ${u(c.stride)} + tap / ${u(c.k)}) - ${c.pad};
  let wi = i32((pp % ${u(c.wo)}) * ${u(c.stride)} + tap % ${u(c.k)}) - ${c.pad};
  if (hi >= 0 && hi < ${c.h} && wi >= 0 && wi < ${c.w}) {
    v = X[((pn * ${u(c.h)} + u32(hi)) * ${u(c.w)} + u32(wi)) * ${u(c.cin)} + ci];
  }`;
}

/** Convolution forward: Y[n, ho, wo, co] = Σ X patch · W. Bindings: X, W (filter slice), Y. */
export function convForward(c: ConvShape, tile: Tile): string {
  const R = c.k * c.k * c.cin;
  return gemm({
    M: c.n * c.ho * c.wo,
    N: c.cout,
    R,
    tile,
    chunk: R,
    bindings: `
@group(0) @binding(0) var<storage, read> X : array<f32>;
@group(0) @binding(1) var<storage, read> W : array<f32>;
@group(0) @binding(2) var<storage, read_write> Y : array<f32>;`,
    loadA: patch(c, 'm', 'r'),
    loadB: `v = W[r * ${u(c.cout)} + n];`,
    aFast: 'r',
    bFast: 'n',
    store: `Y[m * ${u(c.cout)} + n] = a;`,
  });
}

/**
 * Convolution input gradient: dX[n, h, w, ci] (+)= Σ_{kh, kw, co} dY[n, (h + p − kh)/s, (w + p − kw)/s, co] ·
 * W[kh, kw, ci, co]. Bindings: DY, W, DX. `accumulate` adds to DX (an activation that also feeds a residual).
 */
export function convInputGrad(c: ConvShape, tile: Tile, accumulate: boolean): string {
  const R = c.k * c.k * c.cout;
  return gemm({
    M: c.n * c.h * c.w,
    N: c.cin,
    R,
    tile,
    chunk: R,
    bindings: `
@group(0) @binding(0) var<storage, read> DY : array<f32>;
@group(0) @binding(1) var<storage, read> W : array<f32>;
@group(0) @binding(2) var<storage, read_write> DX : array<f32>;`,
    loadA: `
  let pn = m / ${u(c.h * c.w)};
  let pp = m % ${u(c.h * c.w)};
  let tap = r / ${u(c.cout)};
  let co = r % ${u(c.cout)};
  let th = i32(pp / ${u(c.w)}) + ${c.pad} - i32(tap / ${u(c.k)});
  let tw = i32(pp % ${u(c.w)}) + ${c.pad} - i32(tap % ${u(c.k)});
  if (th >= 0 && tw >= 0 && th % ${c.stride} == 0 && tw % ${c.stride} == 0) {
    let oh = u32(th / ${c.stride});
    let ow = u32(tw / ${c.stride});
    if (oh < ${u(c.ho)} && ow < ${u(c.wo)}) {
      v = DY[((pn * ${u(c.ho)} + oh) * ${u(c.wo)} + ow) * ${u(c.cout)} + co];
    }
  }`,
    loadB: `v = W[((r / ${u(c.cout)}) * ${u(c.cin)} + n) * ${u(c.cout)} + r % ${u(c.cout)}];`,
    aFast: 'r',
    bFast: 'r',
    store: accumulate
      ? `DX[m * ${u(c.cin)} + n] = DX[m * ${u(c.cin)} + n] + a;`
      : `DX[m * ${u(c.cin)} + n] = a;`,
  });
}

/** Split of the filter gradient's reduction: `splits` chunks of `chunk` pixels (a multiple of TR). */
export function filterGradSplit(c: ConvShape, tile: Tile): { splits: number; chunk: number } {
  const R = c.n * c.ho * c.wo;
  const M = c.k * c.k * c.cin;
  const tiles = Math.ceil(M / (16 * tile.rm)) * Math.ceil(c.cout / (16 * tile.rn));
  // Enough workgroups to fill a large GPU (~2,048), none with fewer than 256 pixels to sum.
  const wanted = Math.max(1, Math.min(Math.ceil(R / 256), Math.ceil(2048 / tiles)));
  const chunk = Math.ceil(R / wanted / TR) * TR;
  return { splits: Math.ceil(R / chunk), chunk };
}

/**
 * Convolution filter gradient, split-K: P[s, k, co] = Σ_{pixels of chunk s} X patch[pixel, k] · dY[pixel, co].
 * Bindings: X, DY, P (S partial filters; with one split, P is the gradient slice itself).
 */
export function convFilterGrad(c: ConvShape, tile: Tile, chunk: number): string {
  const M = c.k * c.k * c.cin;
  return gemm({
    M,
    N: c.cout,
    R: c.n * c.ho * c.wo,
    tile,
    chunk,
    bindings: `
@group(0) @binding(0) var<storage, read> X : array<f32>;
@group(0) @binding(1) var<storage, read> DY : array<f32>;
@group(0) @binding(2) var<storage, read_write> P : array<f32>;`,
    loadA: patch(c, 'r', 'm'),
    loadB: `v = DY[r * ${u(c.cout)} + n];`,
    aFast: 'm',
    bFast: 'n',
    store: `P[s * ${u(M * c.cout)} + m * ${u(c.cout)} + n] = a;`,
  });
}

/** G[i] = Σ_s P[s, i] in order s = 0, 1, …: the split-K partials of a filter gradient summed. Bindings: P, G. */
export function sumSplits(size: number, splits: number): string {
  return `
@group(0) @binding(0) var<storage, read> P : array<f32>;
@group(0) @binding(1) var<storage, read_write> G : array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  for (var i = gid.x; i < ${u(size)}; i += nwg.x * ${u(WG)}) {
    var acc = 0.0;
    for (var s = 0u; s < ${u(splits)}; s++) { acc += P[s * ${u(size)} + i]; }
    G[i] = acc;
  }
}`;
}

/** Rows per chunk of the batch-norm reductions (~8,192 elements per workgroup). */
export function bnChunkRows(rows: number, c: number): number {
  return Math.max(1, Math.min(rows, Math.ceil(8192 / c)));
}

/** Channels per pass and lanes (rows summed side by side) of a 256-thread batch-norm workgroup. */
function bnLanes(c: number): { cpb: number; lanes: number } {
  const cpb = Math.min(c, WG);
  return { cpb, lanes: Math.floor(WG / cpb) };
}

/**
 * Batch-norm statistics, per chunk of rows: PART[chunk, 0, c] = mean of the chunk's rows, PART[chunk, 1, c] = Σ (x −
 * chunk mean)². Bindings: X, PART.
 */
export function bnStats(rows: number, c: number, chunkRows: number): string {
  const { cpb, lanes } = bnLanes(c);
  return `
@group(0) @binding(0) var<storage, read> X : array<f32>;
@group(0) @binding(1) var<storage, read_write> PART : array<f32>;
var<workgroup> sh : array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let r0 = wg.x * ${u(chunkRows)};
  let r1 = min(${u(rows)}, r0 + ${u(chunkRows)});
  let cnt = f32(r1 - r0);
  let lane = lid / ${u(cpb)};
  for (var c0 = 0u; c0 < ${u(c)}; c0 += ${u(cpb)}) {
    let c = c0 + lid % ${u(cpb)};
    let live = lane < ${u(lanes)} && c < ${u(c)};
    var s = 0.0;
    if (live) {
      for (var r = r0 + lane; r < r1; r += ${u(lanes)}) { s += X[r * ${u(c)} + c]; }
    }
    sh[lid] = s;
    workgroupBarrier();
    var mean = 0.0;
    for (var l = 0u; l < ${u(lanes)}; l++) { mean += sh[l * ${u(cpb)} + lid % ${u(cpb)}]; }
    mean = mean / cnt;
    workgroupBarrier();
    var q = 0.0;
    if (live) {
      for (var r = r0 + lane; r < r1; r += ${u(lanes)}) {
        let d = X[r * ${u(c)} + c] - mean;
        q += d * d;
      }
    }
    sh[lid] = q;
    workgroupBarrier();
    if (lane == 0u && c < ${u(c)}) {
      var m2 = 0.0;
      for (var l = 0u; l < ${u(lanes)}; l++) { m2 += sh[l * ${u(cpb)} + lid]; }
      PART[wg.x * ${u(2 * c)} + c] = mean;
      PART[wg.x * ${u(2 * c)} + ${u(c)} + c] = m2;
    }
    workgroupBarrier();
  }
}`;
}

/**
 * Combine the chunks: STATS = [mean(C), invstd(C)] of the batch; RUN = [running mean(C), running var(C)] updated
 * with `momentum` (unbiased variance, as PyTorch). Bindings: PART, STATS, RUN.
 */
export function bnFinalize(
  rows: number,
  c: number,
  chunkRows: number,
  eps: number,
  momentum: number,
): string {
  const chunks = Math.ceil(rows / chunkRows);
  const last = rows - (chunks - 1) * chunkRows;
  return `
@group(0) @binding(0) var<storage, read> PART : array<f32>;
@group(0) @binding(1) var<storage, read_write> STATS : array<f32>;
@group(0) @binding(2) var<storage, read_write> RUN : array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid : u32) {
  for (var c = lid; c < ${u(c)}; c += ${u(WG)}) {
    var mean = 0.0;
    for (var k = 0u; k < ${u(chunks)}; k++) {
      let n = select(${f(chunkRows)}, ${f(last)}, k == ${u(chunks - 1)});
      mean += n * PART[k * ${u(2 * c)} + c];
    }
    mean = mean / ${f(rows)};
    var m2 = 0.0;
    for (var k = 0u; k < ${u(chunks)}; k++) {
      let n = select(${f(chunkRows)}, ${f(last)}, k == ${u(chunks - 1)});
      let d = PART[k * ${u(2 * c)} + c] - mean;
      m2 += PART[k * ${u(2 * c)} + ${u(c)} + c] + n * d * d;
    }
    let variance = m2 / ${f(rows)};
    STATS[c] = mean;
    STATS[${u(c)} + c] = 1.0 / sqrt(variance + ${f(eps)});
    RUN[c] = (1.0 - ${f(momentum)}) * RUN[c] + ${f(momentum)} * mean;
    RUN[${u(c)} + c] = (1.0 - ${f(momentum)}) * RUN[${u(c)} + c] + ${f(momentum)} * (m2 / ${f(Math.max(1, rows - 1))});
  }
}`;
}

/** How a batch norm's output adds a residual: none, the same tensor, or option A (subsample by 2, pad channels). */
export type ResidualMode =
  | { kind: 'none' }
  | { kind: 'identity' }
  | { kind: 'optionA'; h: number; w: number; c: number; padLo: number };

/**
 * y = [relu](γ·(x − mean)·invstd + β [+ residual]). Bindings: X, STATS, GB (= [γ(C), β(C)]), Y, then RES when there
 * is a residual. Output [n, h, w, C].
 */
export function bnApply(
  n: number,
  h: number,
  w: number,
  c: number,
  relu: boolean,
  res: ResidualMode,
): string {
  const size = n * h * w * c;
  let resExpr = '';
  if (res.kind === 'identity') resExpr = 'y += RES[i];';
  else if (res.kind === 'optionA') {
    resExpr = `
    let p = i / ${u(c)};
    let cr = i32(ch) - ${res.padLo};
    if (cr >= 0 && cr < ${res.c}) {
      let pn = p / ${u(h * w)};
      let pp = p % ${u(h * w)};
      y += RES[((pn * ${u(res.h)} + 2u * (pp / ${u(w)})) * ${u(res.w)} + 2u * (pp % ${u(w)})) * ${u(res.c)} + u32(cr)];
    }`;
  }
  return `
@group(0) @binding(0) var<storage, read> X : array<f32>;
@group(0) @binding(1) var<storage, read> STATS : array<f32>;
@group(0) @binding(2) var<storage, read> GB : array<f32>;
@group(0) @binding(3) var<storage, read_write> Y : array<f32>;
${res.kind === 'none' ? '' : '@group(0) @binding(4) var<storage, read> RES : array<f32>;'}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  for (var i = gid.x; i < ${u(size)}; i += nwg.x * ${u(WG)}) {
    let ch = i % ${u(c)};
    var y = (X[i] - STATS[ch]) * STATS[${u(c)} + ch] * GB[ch] + GB[${u(c)} + ch];
    ${resExpr}
    ${relu ? 'y = max(y, 0.0);' : ''}
    Y[i] = y;
  }
}`;
}

/** dy' = dy masked by the ReLU (y > 0) when there is one. */
function maskedDy(relu: boolean, idx: string): string {
  return relu ? `select(0.0, DY[${idx}], Y[${idx}] > 0.0)` : `DY[${idx}]`;
}

/**
 * Batch-norm backward sums per chunk: PART[chunk, 0, c] = Σ dy', PART[chunk, 1, c] = Σ dy'·x̂. Bindings: DY, Y, X,
 * STATS, PART.
 */
export function bnBackwardSums(rows: number, c: number, chunkRows: number, relu: boolean): string {
  const { cpb, lanes } = bnLanes(c);
  return `
@group(0) @binding(0) var<storage, read> DY : array<f32>;
@group(0) @binding(1) var<storage, read> Y : array<f32>;
@group(0) @binding(2) var<storage, read> X : array<f32>;
@group(0) @binding(3) var<storage, read> STATS : array<f32>;
@group(0) @binding(4) var<storage, read_write> PART : array<f32>;
var<workgroup> sh1 : array<f32, ${WG}>;
var<workgroup> sh2 : array<f32, ${WG}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg : vec3<u32>, @builtin(local_invocation_index) lid : u32) {
  let r0 = wg.x * ${u(chunkRows)};
  let r1 = min(${u(rows)}, r0 + ${u(chunkRows)});
  let lane = lid / ${u(cpb)};
  for (var c0 = 0u; c0 < ${u(c)}; c0 += ${u(cpb)}) {
    let c = c0 + lid % ${u(cpb)};
    var s1 = 0.0;
    var s2 = 0.0;
    if (lane < ${u(lanes)} && c < ${u(c)}) {
      let mean = STATS[c];
      let inv = STATS[${u(c)} + c];
      for (var r = r0 + lane; r < r1; r += ${u(lanes)}) {
        let i = r * ${u(c)} + c;
        let d = ${maskedDy(relu, 'i')};
        s1 += d;
        s2 += d * (X[i] - mean) * inv;
      }
    }
    sh1[lid] = s1;
    sh2[lid] = s2;
    workgroupBarrier();
    if (lane == 0u && c < ${u(c)}) {
      var t1 = 0.0;
      var t2 = 0.0;
      for (var l = 0u; l < ${u(lanes)}; l++) {
        t1 += sh1[l * ${u(cpb)} + lid];
        t2 += sh2[l * ${u(cpb)} + lid];
      }
      PART[wg.x * ${u(2 * c)} + c] = t1;
      PART[wg.x * ${u(2 * c)} + ${u(c)} + c] = t2;
    }
    workgroupBarrier();
  }
}`;
}

/** Sum the chunks in order: DGB = [dγ(C) = Σ dy'·x̂, dβ(C) = Σ dy']. Bindings: PART, DGB. */
export function bnBackwardFinalize(rows: number, c: number, chunkRows: number): string {
  const chunks = Math.ceil(rows / chunkRows);
  return `
@group(0) @binding(0) var<storage, read> PART : array<f32>;
@group(0) @binding(1) var<storage, read_write> DGB : array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) lid : u32) {
  for (var c = lid; c < ${u(c)}; c += ${u(WG)}) {
    var t1 = 0.0;
    var t2 = 0.0;
    for (var k = 0u; k < ${u(chunks)}; k++) {
      t1 += PART[k * ${u(2 * c)} + c];
      t2 += PART[k * ${u(2 * c)} + ${u(c)} + c];
    }
    DGB[c] = t2;
    DGB[${u(c)} + c] = t1;
  }
}`;
}

/**
 * dx = γ·invstd·(dy' − dβ/R − x̂·dγ/R); with an identity residual also RESG = dy' (the residual's gradient, which
 * initialises it: the block's first convolution adds its input gradient later). Bindings: DY, Y, X, STATS, GB, DGB,
 * DX, then RESG.
 */
export function bnBackwardApply(rows: number, c: number, relu: boolean, writeResidual: boolean): string {
  const size = rows * c;
  return `
@group(0) @binding(0) var<storage, read> DY : array<f32>;
@group(0) @binding(1) var<storage, read> Y : array<f32>;
@group(0) @binding(2) var<storage, read> X : array<f32>;
@group(0) @binding(3) var<storage, read> STATS : array<f32>;
@group(0) @binding(4) var<storage, read> GB : array<f32>;
@group(0) @binding(5) var<storage, read> DGB : array<f32>;
@group(0) @binding(6) var<storage, read_write> DX : array<f32>;
${writeResidual ? '@group(0) @binding(7) var<storage, read_write> RESG : array<f32>;' : ''}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  for (var i = gid.x; i < ${u(size)}; i += nwg.x * ${u(WG)}) {
    let ch = i % ${u(c)};
    let inv = STATS[${u(c)} + ch];
    let d = ${maskedDy(relu, 'i')};
    let xhat = (X[i] - STATS[ch]) * inv;
    DX[i] = GB[ch] * inv * (d - DGB[${u(c)} + ch] / ${f(rows)} - xhat * DGB[ch] / ${f(rows)});
    ${writeResidual ? 'RESG[i] = d;' : ''}
  }
}`;
}

/**
 * Gradient of an option-A shortcut's input (initialising it): G[n, h, w, c] = dy'[n, h/2, w/2, c + padLo] at even
 * h, w (within the output's channels), else 0. Bindings: DY, Y (the block output, for the ReLU mask), G.
 */
export function shortcutAGrad(
  n: number,
  h: number,
  w: number,
  c: number,
  ho: number,
  wo: number,
  co: number,
  padLo: number,
  relu: boolean,
): string {
  const size = n * h * w * c;
  return `
@group(0) @binding(0) var<storage, read> DY : array<f32>;
@group(0) @binding(1) var<storage, read> Y : array<f32>;
@group(0) @binding(2) var<storage, read_write> G : array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  for (var i = gid.x; i < ${u(size)}; i += nwg.x * ${u(WG)}) {
    let ch = i % ${u(c)};
    let p = i / ${u(c)};
    let pn = p / ${u(h * w)};
    let hh = (p % ${u(h * w)}) / ${u(w)};
    let ww = p % ${u(w)};
    var v = 0.0;
    if (hh % 2u == 0u && ww % 2u == 0u && hh / 2u < ${u(ho)} && ww / 2u < ${u(wo)} && ch + ${u(padLo)} < ${u(co)}) {
      let j = ((pn * ${u(ho)} + hh / 2u) * ${u(wo)} + ww / 2u) * ${u(co)} + ch + ${u(padLo)};
      v = ${maskedDy(relu, 'j')};
    }
    G[i] = v;
  }
}`;
}

/** Global average pooling [n, hw, c] → [n, c]. Bindings: X, Y. */
export function poolForward(n: number, hw: number, c: number): string {
  return `
@group(0) @binding(0) var<storage, read> X : array<f32>;
@group(0) @binding(1) var<storage, read_write> Y : array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  for (var i = gid.x; i < ${u(n * c)}; i += nwg.x * ${u(WG)}) {
    let pn = i / ${u(c)};
    let ch = i % ${u(c)};
    var s = 0.0;
    for (var p = 0u; p < ${u(hw)}; p++) { s += X[(pn * ${u(hw)} + p) * ${u(c)} + ch]; }
    Y[i] = s / ${f(hw)};
  }
}`;
}

/** Gradient of global average pooling: DX[n, p, c] (+)= DY[n, c] / hw. Bindings: DY, DX. */
export function poolBackward(n: number, hw: number, c: number, accumulate: boolean): string {
  return `
@group(0) @binding(0) var<storage, read> DY : array<f32>;
@group(0) @binding(1) var<storage, read_write> DX : array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  for (var i = gid.x; i < ${u(n * hw * c)}; i += nwg.x * ${u(WG)}) {
    let v = DY[(i / ${u(hw * c)}) * ${u(c)} + i % ${u(c)}] / ${f(hw)};
    DX[i] = ${accumulate ? 'DX[i] + v' : 'v'};
  }
}`;
}

/** Linear layer Y[n, o] = Σ_f X[n, f]·W[f, o] + b[o]; WB = [W(F·O), b(O)]. Bindings: X, WB, Y. */
export function linearForward(n: number, fin: number, fout: number): string {
  return `
@group(0) @binding(0) var<storage, read> X : array<f32>;
@group(0) @binding(1) var<storage, read> WB : array<f32>;
@group(0) @binding(2) var<storage, read_write> Y : array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  for (var i = gid.x; i < ${u(n * fout)}; i += nwg.x * ${u(WG)}) {
    let pn = i / ${u(fout)};
    let o = i % ${u(fout)};
    var s = WB[${u(fin * fout)} + o];
    for (var k = 0u; k < ${u(fin)}; k++) { s = fma(X[pn * ${u(fin)} + k], WB[k * ${u(fout)} + o], s); }
    Y[i] = s;
  }
}`;
}

/**
 * Linear layer parameter gradients: DWB = [dW[f, o] = Σ_n X[n, f]·DY[n, o], db[o] = Σ_n DY[n, o]]. Bindings: X, DY,
 * DWB.
 */
export function linearParamGrad(n: number, fin: number, fout: number): string {
  return `
@group(0) @binding(0) var<storage, read> X : array<f32>;
@group(0) @binding(1) var<storage, read> DY : array<f32>;
@group(0) @binding(2) var<storage, read_write> DWB : array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  for (var i = gid.x; i < ${u(fin * fout + fout)}; i += nwg.x * ${u(WG)}) {
    var s = 0.0;
    if (i < ${u(fin * fout)}) {
      let k = i / ${u(fout)};
      let o = i % ${u(fout)};
      for (var pn = 0u; pn < ${u(n)}; pn++) { s = fma(X[pn * ${u(fin)} + k], DY[pn * ${u(fout)} + o], s); }
    } else {
      let o = i - ${u(fin * fout)};
      for (var pn = 0u; pn < ${u(n)}; pn++) { s += DY[pn * ${u(fout)} + o]; }
    }
    DWB[i] = s;
  }
}`;
}

/** Linear layer input gradient DX[n, f] (+)= Σ_o DY[n, o]·W[f, o]. Bindings: DY, WB, DX. */
export function linearInputGrad(n: number, fin: number, fout: number, accumulate: boolean): string {
  return `
@group(0) @binding(0) var<storage, read> DY : array<f32>;
@group(0) @binding(1) var<storage, read> WB : array<f32>;
@group(0) @binding(2) var<storage, read_write> DX : array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  for (var i = gid.x; i < ${u(n * fin)}; i += nwg.x * ${u(WG)}) {
    let pn = i / ${u(fin)};
    let k = i % ${u(fin)};
    var s = 0.0;
    for (var o = 0u; o < ${u(fout)}; o++) { s = fma(DY[pn * ${u(fout)} + o], WB[k * ${u(fout)} + o], s); }
    DX[i] = ${accumulate ? 'DX[i] + s' : 's'};
  }
}`;
}

/**
 * SGD with momentum and weight decay over the flat parameter buffer (PyTorch's torch.optim.SGD, dampening 0):
 * d = g + wd·w; buf = momentum·buf + d; w −= lr·buf. PyTorch's first step (buf = d) is a zero buffer. U = [lr,
 * momentum, wd]. Bindings: U, W, G, B.
 */
export function sgd(size: number): string {
  return `
struct Hyper { lr : f32, momentum : f32, wd : f32, unused : f32 }
@group(0) @binding(0) var<uniform> U : Hyper;
@group(0) @binding(1) var<storage, read_write> W : array<f32>;
@group(0) @binding(2) var<storage, read> G : array<f32>;
@group(0) @binding(3) var<storage, read_write> B : array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) nwg : vec3<u32>) {
  for (var i = gid.x; i < ${u(size)}; i += nwg.x * ${u(WG)}) {
    let b = U.momentum * B[i] + (G[i] + U.wd * W[i]);
    B[i] = b;
    W[i] = W[i] - U.lr * b;
  }
}`;
}

/** Workgroups for an elementwise kernel over `size` elements (grid-stride beyond MAX_GROUPS). */
export function groupsFor(size: number): number {
  return Math.max(1, Math.min(MAX_GROUPS, Math.ceil(size / WG)));
}
