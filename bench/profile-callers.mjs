// Callers of one function (default scoreMixture) in one bench:serve phase. Usage: node bench/profile-callers.mjs <base> <phase> [fn] [depth]
import { readFileSync, readdirSync } from 'node:fs';
const base = process.argv[2]; const phase = process.argv[3]; const target = process.argv[4] ?? 'scoreMixture'; const depth = Number(process.argv[5] ?? 4);
const dir = `${base}/prof`;
const file = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()[0];
const prof = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8'));
const marks = JSON.parse(readFileSync(`${base}/marks.json`, 'utf8'));
const nodes = new Map(); for (const n of prof.nodes) nodes.set(n.id, n);
const parent = new Map(); for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const iv = marks[phase].slice().sort((a, b) => a[0] - b[0]);
const inPhase = (ts) => { let lo = 0, hi = iv.length - 1; while (lo <= hi) { const m = (lo + hi) >> 1; if (iv[m][1] < ts) lo = m + 1; else if (iv[m][0] > ts) hi = m - 1; else return true; } return false; };
let t = prof.startTime; const agg = new Map(); let busy = 0;
for (let i = 0; i < prof.samples.length; i++) {
  t += prof.timeDeltas[i]; if (!inPhase(t)) continue;
  const dt = prof.timeDeltas[i + 1] ?? prof.timeDeltas[i];
  let id = prof.samples[i]; const n = nodes.get(id); if (n.callFrame.functionName !== '(idle)') busy += dt;
  const chain = []; let hit = false;
  while (id !== undefined) { const fn = nodes.get(id).callFrame.functionName || '(anon)'; if (fn === target) hit = true; if (hit) chain.push(fn); id = parent.get(id); }
  if (!hit) continue;
  const key = chain.slice(0, depth).join(' < '); agg.set(key, (agg.get(key) ?? 0) + dt);
}
console.log(`${phase} ${target}: busy ${(busy/1000).toFixed(0)} ms, ${iv.length} intervals`);
[...agg].sort((a, b) => b[1] - a[1]).slice(0, 15).forEach(([k, v]) => console.log(`${(100 * v / busy).toFixed(1).padStart(5)}% ${(v / 1000 / iv.length).toFixed(2).padStart(6)} ms  ${k}`));
