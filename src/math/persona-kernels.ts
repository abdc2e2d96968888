/**
 * Driver of the persona model's kernels (assembly/personas.ts, f64x2 SIMD, compiled into
 * build/wasm/personas.wasm by `npm run build:wasm`): the dot products of a user's scored list
 * against the user's components and the fused backward pass (gP += g Q_j, gQ_j += g P_q). The
 * kernels reproduce the plain float64 loops bit for bit (see the assembly file), so moving a loop
 * into them changes no number.
 *
 * A `PersonaArena` is one shared WebAssembly memory holding the target vectors Q, the per-chunk
 * gradient buffers gQ and per-chunk scratch (the components P and their gradient gP as float64,
 * the list, the logits z and the backward coefficients). It is plain data (the memory, byte
 * offsets and an id), so it travels to pool workers with the training state; each thread
 * instantiates the kernel once per arena. Imports nothing heavy (pool workers load it).
 */
import { align64, sharedMemory, wasmKernel, type WasmMemory } from './wasm.js';

interface PersonaKernel {
  heapBase(): number;
  zRows(Q: number, d: number, P: number, K: number, on: number, list: number, len: number, z: number): void;
  backRows(Q: number, gQ: number, d: number, P: number, gP: number, K: number, list: number, coef: number, idx: number, n: number): void;
  clusterRows(W: number, d: number, items: number, n: number, k: number, minItems: number, iters: number, assign: number, S: number): number;
  adamRows(X: number, G: number, chunks: number, M: number, V: number, d: number, rows: number, masks: number, n: number, c1: number, c2: number, lr: number, l2: number, b1: number, ob1: number, b2: number, ob2: number): void;
}

/** The row loops of a user's gradient (assembly/persona-grad.ts, build/wasm/persona-grad.wasm). */
interface GradKernel {
  buildP(W: number, d: number, items: number, roles: number, assign: number, n: number, k: number, whole: number, scale: number, P: number): void;
  backW(gW: number, d: number, items: number, roles: number, assign: number, n: number, k: number, whole: number, scale: number, gP: number): void;
  exp(x: number): number;
  logitRows(B: number, list: number, logw: number, len: number, K: number, on: number, z: number, mx: number, sums: number): void;
  coefRows(z: number, K: number, on: number, lse: number, R: number, resp: number, nt: number, len: number, skipEps: number, coef: number, idx: number, tots: number): number;
}

const instantiate = wasmKernel<PersonaKernel>('personas.wasm', 'persona-kernels');
const instantiateGrad = wasmKernel<GradKernel>('persona-grad.wasm', 'persona-kernels');

/** Byte offsets of one chunk's scratch. */
export interface ChunkScratch {
  /** K x d float64 components and their gradients; K bytes of flags (component on). */
  readonly P: number;
  readonly gP: number;
  readonly on: number;
  /** cap int32 list entries, cap x K float64 logits and coefficients, cap int32 backward entries. */
  readonly list: number;
  readonly z: number;
  readonly coef: number;
  readonly idx: number;
  /** The user's history (cap int32 items and cluster labels, cap bytes of roles) and K float64 component scales. */
  readonly items: number;
  readonly groups: number;
  readonly roles: number;
  readonly scale: number;
  /**
   * The softmax's float64 scratch: the list's log weights and kept entries' summed coefficients
   * (cap each), the targets' responsibilities (cap x K), and per component the logits' maximum,
   * the sum of exp, the log normaliser and the summed responsibilities (K each).
   */
  readonly logw: number;
  readonly tots: number;
  readonly resp: number;
  readonly mx: number;
  readonly sums: number;
  readonly lse: number;
  readonly R: number;
}

/** Where everything is in the arena's memory (plain data: structured-cloned to workers). */
export interface PersonaArena {
  readonly id: number;
  readonly memory: WasmMemory;
  readonly d: number;
  /** Components per user at most, and list entries per user at most. */
  readonly K: number;
  readonly cap: number;
  readonly Q: number;
  readonly gQ: readonly number[];
  readonly scratch: readonly ChunkScratch[];
  /** The context vectors W, the biases B (items float32), W's chunk gradients, the Adam moments of W and Q (items x d float32). */
  readonly W: number;
  readonly B: number;
  readonly gW: readonly number[];
  readonly mW: number;
  readonly vW: number;
  readonly mQ: number;
  readonly vQ: number;
  /** The byte offsets of the gW and of the gQ buffers (chunks int32 each), for the Adam kernel. */
  readonly gWAt: number;
  readonly gQAt: number;
  /**
   * Adam's rows to step (chunks x items int32: chunk c's rows from c x items), the chunks whose
   * gradient buffers each row reads (one byte per row, bit c = chunk c) and their bias
   * corrections (float64 each), at the same positions.
   */
  readonly rows: number;
  readonly masks: number;
  readonly c1: number;
  readonly c2: number;
  /** Clustering scratch (`clusterInArena`): one slot per concurrent caller, for histories of up to clusterN items and up to clusterK clusters. */
  readonly cluster: readonly number[];
  readonly clusterN: number;
  readonly clusterK: number;
}

let nextId = 1;

/** Bytes of one clustering slot: n items and n labels (int32), then clusterRows' scratch. */
function clusterSlotBytes(n: number, k: number, d: number): number {
  const kp = (k + 1) & ~1;
  return align64(8 * n) + 8 * n * (3 + kp) + 8 * d * (k + kp + 1) + 8 * k;
}

/**
 * An arena for `nItems` x `d` target vectors, `chunks` gradient buffers and scratch for users with
 * up to `K` components and lists of up to `cap` entries, plus `slots` clustering slots for
 * histories of up to `clusterN` items into up to `clusterK` clusters. Zero-filled.
 */
export function personaArena(nItems: number, d: number, chunks: number, K: number, cap: number, slots = 0, clusterN = 0, clusterK = 0): PersonaArena {
  let end = align64(Math.max(64, instantiate(sharedMemory(1, 'persona-kernels:')).heapBase()));
  const take = (bytes: number): number => {
    const at = end;
    end = align64(at + Math.max(0, bytes));
    return at;
  };
  const rows = nItems * d * 4;
  const Q = take(rows);
  const gQ = Array.from({ length: chunks }, () => take(rows));
  const scratch = Array.from({ length: chunks }, () => ({
    P: take(K * d * 8),
    gP: take(K * d * 8),
    on: take(K),
    list: take(cap * 4),
    z: take(cap * K * 8),
    coef: take(cap * K * 8),
    idx: take(cap * 4),
    items: take(cap * 4),
    groups: take(cap * 4),
    roles: take(cap),
    scale: take(K * 8),
    logw: take(cap * 8),
    tots: take(cap * 8),
    resp: take(cap * K * 8),
    mx: take(K * 8),
    sums: take(K * 8),
    lse: take(K * 8),
    R: take(K * 8),
  }));
  const W = take(rows);
  const B = take(nItems * 4);
  const gW = Array.from({ length: chunks }, () => take(rows));
  const [mW, vW, mQ, vQ] = [take(rows), take(rows), take(rows), take(rows)];
  const gWAt = take(chunks * 4);
  const gQAt = take(chunks * 4);
  const steps = chunks * nItems;
  const at = { rows: take(steps * 4), masks: take(steps), c1: take(steps * 8), c2: take(steps * 8) };
  const cluster = Array.from({ length: clusterK >= 2 ? slots : 0 }, () => take(clusterSlotBytes(clusterN, clusterK, d)));
  const memory = sharedMemory(end, `personas: ${nItems} items x ${d} dimensions (${chunks} gradient buffers)`);
  new Int32Array(memory.buffer, gWAt, chunks).set(gW);
  new Int32Array(memory.buffer, gQAt, chunks).set(gQ);
  return { id: nextId++, memory, d, K, cap, Q, gQ, scratch, W, B, gW, mW, vW, mQ, vQ, gWAt, gQAt, ...at, cluster, clusterN, clusterK };
}

/** Views and the kernel of one chunk's scratch, for the calling thread. */
export interface ChunkKernel {
  readonly k: PersonaKernel;
  readonly g: GradKernel;
  readonly a: PersonaArena;
  readonly s: ChunkScratch;
  readonly P: Float64Array;
  readonly gP: Float64Array;
  readonly on: Uint8Array;
  readonly list: Int32Array;
  readonly z: Float64Array;
  readonly coef: Float64Array;
  readonly idx: Int32Array;
  readonly items: Int32Array;
  readonly groups: Int32Array;
  readonly roles: Uint8Array;
  readonly scale: Float64Array;
  readonly logw: Float64Array;
  readonly tots: Float64Array;
  readonly resp: Float64Array;
  readonly mx: Float64Array;
  readonly sums: Float64Array;
  readonly lse: Float64Array;
  readonly R: Float64Array;
}

// per thread: the kernel instance of the last arena and its chunk views
let cachedId = -1;
let cached: ChunkKernel[] = [];

/** The kernel and scratch views of `chunk` in `arena` (instantiated once per arena and thread). */
export function chunkKernel(arena: PersonaArena, chunk: number): ChunkKernel {
  if (cachedId !== arena.id) {
    const k = instantiate(arena.memory);
    const g = instantiateGrad(arena.memory);
    const buf = arena.memory.buffer;
    const { K, cap, d } = arena;
    cached = arena.scratch.map((s) => ({
      k, g, a: arena, s,
      P: new Float64Array(buf, s.P, K * d),
      gP: new Float64Array(buf, s.gP, K * d),
      on: new Uint8Array(buf, s.on, K),
      list: new Int32Array(buf, s.list, cap),
      z: new Float64Array(buf, s.z, cap * K),
      coef: new Float64Array(buf, s.coef, cap * K),
      idx: new Int32Array(buf, s.idx, cap),
      items: new Int32Array(buf, s.items, cap),
      groups: new Int32Array(buf, s.groups, cap),
      roles: new Uint8Array(buf, s.roles, cap),
      scale: new Float64Array(buf, s.scale, K),
      logw: new Float64Array(buf, s.logw, cap),
      tots: new Float64Array(buf, s.tots, cap),
      resp: new Float64Array(buf, s.resp, cap * K),
      mx: new Float64Array(buf, s.mx, K),
      sums: new Float64Array(buf, s.sums, K),
      lse: new Float64Array(buf, s.lse, K),
      R: new Float64Array(buf, s.R, K),
    }));
    cachedId = arena.id;
  }
  return cached[chunk]!;
}

/** Drops this thread's kernel instance and views of the last arena (so a finished fit's memory can go). */
export function releaseArena(): void {
  cachedId = -1;
  cached = [];
}

/** W, Q, B and the chunk gradient buffers of W and Q as Float32Array views of the arena. */
export function arenaViews(arena: PersonaArena, nItems: number): { W: Float32Array; Q: Float32Array; B: Float32Array; gW: Float32Array[]; gQ: Float32Array[] } {
  const buf = arena.memory.buffer;
  const n = nItems * arena.d;
  return {
    W: new Float32Array(buf, arena.W, n),
    B: new Float32Array(buf, arena.B, nItems),
    Q: new Float32Array(buf, arena.Q, n),
    gW: arena.gW.map((o) => new Float32Array(buf, o, n)),
    gQ: arena.gQ.map((o) => new Float32Array(buf, o, n)),
  };
}

const B1 = 0.9;
const B2 = 0.999;

/**
 * Lazy Adam on the arena's W and Q rows listed in rows[lo .. hi) (masks, c1, c2: the chunks that
 * touched each row and its bias corrections, filled by the caller): sums and zeroes the row in the
 * gradient buffers of the chunks in its mask (of the first `chunks`; the others hold zeros there,
 * and adding a zero changes no sum), L2 `l2`, step `lr`.
 * The arithmetic of ItemAdam's plain loop (src/models/item-train.ts), row by row: rows are
 * independent, so any split of the list gives the same result.
 */
export function adamArenaRows(arena: PersonaArena, chunks: number, lo: number, hi: number, lr: number, l2: number): void {
  const k = chunkKernel(arena, 0).k;
  const { d } = arena;
  const [rows, masks, c1, c2, n] = [arena.rows + 4 * lo, arena.masks + lo, arena.c1 + 8 * lo, arena.c2 + 8 * lo, hi - lo];
  k.adamRows(arena.W, arena.gWAt, chunks, arena.mW, arena.vW, d, rows, masks, n, c1, c2, lr, l2, B1, 1 - B1, B2, 1 - B2);
  k.adamRows(arena.Q, arena.gQAt, chunks, arena.mQ, arena.vQ, d, rows, masks, n, c1, c2, lr, l2, B1, 1 - B1, B2, 1 - B2);
}

/**
 * clusterHistory (src/models/personas-cluster.ts) of `items` on the arena's W into exactly
 * `k` >= 2 clusters at most (k already capped by the history's length), in clustering slot
 * `slot`: the same float64 arithmetic in the same order, so the same labels in `assign`.
 * Returns the number of clusters, or -1 when the slot does not fit (the caller runs the JS loop).
 */
export function clusterInArena(arena: PersonaArena, slot: number, items: Int32Array, k: number, minItems: number, iters: number, assign: Int32Array): number {
  const n = items.length;
  const S = arena.cluster[slot];
  if (S === undefined || n > arena.clusterN || k > arena.clusterK || k < 2) return -1;
  const buf = arena.memory.buffer;
  new Int32Array(buf, S, n).set(items);
  const at = S + 4 * arena.clusterN;
  const K = chunkKernel(arena, 0).k.clusterRows(arena.W, arena.d, S, n, k, minItems, iters, at, S + align64(8 * arena.clusterN));
  assign.set(new Int32Array(buf, at, n));
  return K;
}

/** A scoring copy of one target matrix in kernel memory, with room for up to `K` components. */
interface ScoreArena {
  readonly k: PersonaKernel;
  readonly K: number;
  readonly Q: number;
  readonly cand: Int32Array;
  readonly at: { cand: number; P: number; on: number; z: number };
  readonly P: Float64Array;
  readonly z: Float64Array;
}

// per thread: the scoring copy of each target matrix seen (the matrices of fitted models never change)
const scoring = new WeakMap<Float32Array, ScoreArena>();

function scoreArena(Q: Float32Array, d: number, cand: Int32Array, K: number): ScoreArena {
  const old = scoring.get(Q);
  if (old && old.K >= K && old.cand === cand) return old;
  const Kc = Math.max(K, old?.K ?? 0, 8);
  let end = align64(Math.max(64, instantiate(sharedMemory(1, 'persona-kernels:')).heapBase()));
  const take = (bytes: number): number => {
    const at = end;
    end = align64(at + Math.max(0, bytes));
    return at;
  };
  const q = take(Q.length * 4);
  const at = { cand: take(cand.length * 4), P: take(Kc * d * 8), on: take(Kc), z: take(cand.length * Kc * 8) };
  const memory = sharedMemory(end, `personas scoring: ${Q.length / d} items x ${d} dimensions`);
  const buf = memory.buffer;
  new Float32Array(buf, q, Q.length).set(Q);
  new Int32Array(buf, at.cand, cand.length).set(cand);
  new Uint8Array(buf, at.on, Kc).fill(1);
  const a: ScoreArena = { k: instantiate(memory), K: Kc, Q: q, cand, at, P: new Float64Array(buf, at.P, Kc * d), z: new Float64Array(buf, at.z, cand.length * Kc) };
  scoring.set(Q, a);
  return a;
}

/**
 * z[c * k + q] = Q_{cand[c]} . P_q (float64, the plain loop's arithmetic) for the `k` rows of `P`
 * from `base`, every candidate; a view valid until the next call. Q is copied into kernel memory
 * once per matrix and thread (it must not change afterwards).
 */
export function candidateDots(Q: Float32Array, P: Float32Array | Float64Array, base: number, k: number, d: number, cand: Int32Array): Float64Array {
  const a = scoreArena(Q, d, cand, k);
  for (let x = 0; x < k * d; x++) a.P[x] = P[base + x]!;
  a.k.zRows(a.Q, d, a.at.P, k, a.at.on, a.at.cand, cand.length, a.at.z);
  return a.z;
}
