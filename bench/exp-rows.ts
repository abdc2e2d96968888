// The SIMD exp rows (src/math/exp-rows.ts) against their plain JS loops on one 9,742-entry row
// (ml-latest-small's catalogue), copies into the kernel memory included: CPU microseconds a row
// and the ratio wasm / js. Usage: node --import tsx bench/exp-rows.ts
import { addExpScaled, mixtureTerms, sumExpShift, sumExpShiftFinite } from '../src/math/exp-rows.js';
import { Rng } from '../src/math/rng.js';
const n = 9742, rng = new Rng(3);
const z = new Float64Array(n); for (let i = 0; i < n; i++) z[i] = -25 * rng.next() + 2;
const r = new Float32Array(n); for (let i = 0; i < n; i++) r[i] = rng.next() < 0.05 ? -Infinity : -25 * rng.next() + 2;
let m = -Infinity; for (const v of z) if (v > m) m = v;
const acc = new Float64Array(n);
const jsSum = (): number => { let s = 0; for (let i = 0; i < n; i++) s += Math.exp(z[i]! - m); return s; };
const jsFin = (): number => { let s = 0; for (let i = 0; i < n; i++) if (Number.isFinite(r[i]!)) s += Math.exp(r[i]! - m); return s; };
const jsAdd = (): void => { for (let i = 0; i < n; i++) if (Number.isFinite(r[i]!)) acc[i]! += 0.3 * Math.exp(r[i]! - m); };
// a 5-component mixture's terms over every candidate (personas-train.ts mixtureAt: max, then the sum of exp)
const K = 5;
const zk = new Float64Array(n * K); for (let i = 0; i < zk.length; i++) zk[i] = -25 * rng.next() + 2;
const lse = Float64Array.from({ length: K }, () => 3 * rng.next());
const logPi = Float64Array.from({ length: K }, () => Math.log(rng.next()));
const all = Int32Array.from({ length: n }, (_, c) => c);
const jsMix = (): number => {
  let t = 0;
  for (let c = 0; c < n; c++) {
    let m = -Infinity;
    for (let q = 0; q < K; q++) m = Math.max(m, zk[c * K + q]! - lse[q]! + logPi[q]!);
    let s = 0;
    for (let q = 0; q < K; q++) s += Math.exp(zk[c * K + q]! - lse[q]! + logPi[q]! - m);
    t += s;
  }
  return t;
};
const wasmMix = (): number => mixtureTerms(zk, K, lse, logPi, n).sums(all, n)[0]!;
const cpu = (): number => { const c = process.cpuUsage(); return c.user + c.system; };
const t: Record<string, number> = {};
let sink = 0;
const run = (name: string, f: () => unknown, reps: number): void => { const t0 = cpu(); for (let i = 0; i < reps; i++) sink += Number(f() ?? 0); t[name] = (t[name] ?? 0) + cpu() - t0; };
for (let round = 0; round < 12; round++) {
  run('js sum', jsSum, 200); run('wasm sum', () => sumExpShift(z, m), 200);
  run('js finite32', jsFin, 200); run('wasm finite32', () => sumExpShiftFinite(r, m), 200);
  run('js acc', jsAdd, 200); run('wasm acc', () => addExpScaled(acc, r, m, 0.3), 200);
  run('js mixture', jsMix, 200); run('wasm mixture', wasmMix, 200);
}
for (const k of ['sum', 'finite32', 'acc', 'mixture']) console.log(`${k}: js ${(t['js ' + k]! / 2400).toFixed(1)} us/row, wasm ${(t['wasm ' + k]! / 2400).toFixed(1)} us/row, wasm/js ${(t['wasm ' + k]! / t['js ' + k]!).toFixed(3)}`);
if (sink === 42) console.log(sink);
