/**
 * Driver of the serving side's exponential rows (assembly/exp-rows.ts, f64x2 SIMD, compiled into
 * build/wasm/exp-rows.wasm by `npm run build:wasm`): e^x of a row, the sum of e^{z - m} over a row
 * and acc += c e^{row - lse}, each the plain JS loop's value bit for bit (the kernel's exp is
 * Math.exp's, and the sums add in index order). The rows are copied into one module-level memory
 * (grown by replacing it when a row does not fit); the functions are not re-entrant across threads
 * (each thread has its own module state).
 */
import { sharedMemory, wasmKernel, type WasmMemory } from './wasm.js';

interface ExpKernel {
  heapBase(): number;
  expRow(x: number, n: number, out: number): void;
  sumExpShift(z: number, n: number, m: number): number;
  sumExpShiftFinite32(row: number, n: number, m: number): number;
  addExpScaled32(acc: number, row: number, n: number, lse: number, c: number): void;
  mixtureMaxima(z: number, K: number, lse: number, logPi: number, n: number, m: number): void;
  mixtureSums(z: number, K: number, lse: number, logPi: number, m: number, list: number, n: number, sums: number): void;
}

const instantiate = wasmKernel<ExpKernel>('exp-rows.wasm', 'exp-rows');

let kern: ExpKernel | null = null;
let memory: WasmMemory | null = null;
let base = 0;
/** Calls so far (a `mixtureTerms` copy is valid until the next call). */
let calls = 0;

/** The kernel over a memory with at least `bytes` free from `base` (64-aligned). */
function kernel(bytes: number): ExpKernel {
  calls++;
  if (kern && memory && base + bytes <= memory.buffer.byteLength) return kern;
  const first = instantiate(sharedMemory(1, 'exp-rows:'));
  base = Math.ceil(Math.max(64, first.heapBase()) / 64) * 64;
  const need = base + Math.max(bytes, 1 << 16);
  memory = sharedMemory(need * 2, 'exp-rows:');
  kern = instantiate(memory);
  return kern;
}

/** out[i] = Math.exp(x[i]) (bit for bit). */
export function expRow(x: Float64Array, out: Float64Array): void {
  const n = x.length;
  const k = kernel(16 * n + 64);
  const buf = memory!.buffer;
  new Float64Array(buf, base, n).set(x);
  const o = base + ((8 * n + 63) & ~63);
  k.expRow(base, n, o);
  out.set(new Float64Array(buf, o, n));
}

/** The sum over i of Math.exp(z[i] - m), in index order (bit for bit). */
export function sumExpShift(z: Float64Array, m: number): number {
  const k = kernel(8 * z.length);
  new Float64Array(memory!.buffer, base, z.length).set(z);
  return k.sumExpShift(base, z.length, m);
}

/** The sum over i with a finite row[i] of Math.exp(row[i] - m), in index order (bit for bit). */
export function sumExpShiftFinite(row: Float32Array, m: number): number {
  const k = kernel(4 * row.length);
  new Float32Array(memory!.buffer, base, row.length).set(row);
  return k.sumExpShiftFinite32(base, row.length, m);
}

/** acc[i] += c * Math.exp(row[i] - lse) for every i with a finite row[i] (bit for bit). */
export function addExpScaled(acc: Float64Array, row: Float32Array, lse: number, c: number): void {
  const n = row.length;
  if (acc.length !== n) throw new RangeError(`addExpScaled: acc has ${acc.length} entries, row ${n}`);
  const k = kernel(12 * n + 64);
  const buf = memory!.buffer;
  const a = new Float64Array(buf, base, n);
  a.set(acc);
  const r = base + ((8 * n + 63) & ~63);
  new Float32Array(buf, r, n).set(row);
  k.addExpScaled32(base, r, n, lse, c);
  acc.set(a);
}

/**
 * acc[idx[x]] += c * Math.exp(row[x] - lse) for every x with a finite row[x] (bit for bit, as
 * `addExpScaled` of the gathered entries; `idx` distinct): a row over a subset of acc's entries.
 */
export function addExpScaledAt(acc: Float64Array, idx: Int32Array, row: Float32Array, lse: number, c: number): void {
  const n = row.length;
  if (idx.length !== n) throw new RangeError(`addExpScaledAt: ${idx.length} indices, row ${n}`);
  const k = kernel(12 * n + 64);
  const buf = memory!.buffer;
  const a = new Float64Array(buf, base, n);
  for (let x = 0; x < n; x++) a[x] = acc[idx[x]!]!;
  const r = base + ((8 * n + 63) & ~63);
  new Float32Array(buf, r, n).set(row);
  k.addExpScaled32(base, r, n, lse, c);
  for (let x = 0; x < n; x++) acc[idx[x]!] = a[x]!;
}

/**
 * The terms of the mixture scores log sum_q exp(z[c k + q] - lse[q] + logPi[q]) of n candidates
 * (personas-train.ts `mixtureAt`), with the logits copied once: `maxima` is each candidate's
 * largest term (Math.max over q, in q order) and `sums(list, count)` the sums over q (in q order)
 * of exp(term - maximum) of the candidates list[0..count), each bit for bit the plain loop's. The
 * next call of any function here replaces the copy.
 */
export function mixtureTerms(z: Float64Array, k: number, lse: Float64Array, logPi: Float64Array, n: number): { maxima: Float64Array; sums(list: Int32Array, count: number): Float64Array } {
  const at = (x: number): number => (x + 63) & ~63;
  const oz = base;
  const oLse = oz + at(8 * n * k);
  const oPi = oLse + at(8 * k);
  const oM = oPi + at(8 * k);
  const oList = oM + at(8 * n);
  const oSums = oList + at(4 * n);
  const kn = kernel(oSums + at(8 * n) - base);
  const buf = memory!.buffer;
  new Float64Array(buf, oz, n * k).set(z.subarray(0, n * k));
  new Float64Array(buf, oLse, k).set(lse.subarray(0, k));
  new Float64Array(buf, oPi, k).set(logPi.subarray(0, k));
  kn.mixtureMaxima(oz, k, oLse, oPi, n, oM);
  const mine = calls;
  return {
    maxima: new Float64Array(buf, oM, n).slice(),
    sums(list: Int32Array, count: number): Float64Array {
      if (calls !== mine) throw new Error('exp-rows: mixtureTerms read after another exp-rows call replaced its copy');
      new Int32Array(buf, oList, count).set(list.subarray(0, count));
      kn.mixtureSums(oz, k, oLse, oPi, oM, oList, count, oSums);
      return new Float64Array(buf, oSums, count).slice();
    },
  };
}
