// Function-level CPU shares of one bench:serve phase from the server CPU profile (analysis aid).
// Usage: PROF_BASE=<dir with prof/ and marks.json> node bench/profile-phases.mjs <cold|steady|mixed|likeWrite|likeRead> [top] [noincl]
import { readFileSync, readdirSync } from 'node:fs';
const base = process.env.PROF_BASE ?? '/tmp/lra'; const dir = `${base}/prof`;
const file = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => `${dir}/${f}`)[0];
const prof = JSON.parse(readFileSync(file, 'utf8'));
const marks = JSON.parse(readFileSync(`${base}/marks.json`, 'utf8'));
const nodes = new Map();
for (const n of prof.nodes) nodes.set(n.id, n);
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n) => { const cf = n.callFrame; const f = cf.url.replace(/.*\/(src|node_modules)\//, '$1/'); return `${cf.functionName || '(anon)'} ${f}:${cf.lineNumber + 1}`; };
// sample times
const times = []; let t = prof.startTime;
for (let i = 0; i < prof.samples.length; i++) { t += prof.timeDeltas[i]; times.push(t); }
const phase = process.argv[2]; const topN = Number(process.argv[3] ?? 25);
const iv = marks[phase].slice().sort((a, b) => a[0] - b[0]);
const inPhase = (ts) => { let lo = 0, hi = iv.length - 1; while (lo <= hi) { const m = (lo + hi) >> 1; if (iv[m][1] < ts) lo = m + 1; else if (iv[m][0] > ts) hi = m - 1; else return true; } return false; };
const self = new Map(), incl = new Map(); let total = 0, idle = 0; let wall = 0; for (const [a, b] of iv) wall += b - a;
for (let i = 0; i < prof.samples.length; i++) {
  if (!inPhase(times[i])) continue;
  const dt = prof.timeDeltas[i + 1] ?? prof.timeDeltas[i];
  const n = nodes.get(prof.samples[i]); total += dt;
  if (n.callFrame.functionName === '(idle)') idle += dt;
  const l = label(n); self.set(l, (self.get(l) ?? 0) + dt);
  const seen = new Set(); let id = n.id;
  while (id !== undefined) { const ll = label(nodes.get(id)); if (!seen.has(ll)) { seen.add(ll); incl.set(ll, (incl.get(ll) ?? 0) + dt); } id = parent.get(id); }
}
const busy = total - idle;
console.log(`${phase}: intervals ${iv.length}, wall ${(wall / 1000).toFixed(0)} ms, sampled ${(total / 1000).toFixed(0)} ms, busy ${(busy / 1000).toFixed(0)} ms (${(busy / 1000 / iv.length).toFixed(2)} ms/interval)`);
const show = (m, title) => { console.log(`-- ${title} (% of busy, ms/interval)`); [...m].filter(([l]) => !/^\((idle|root|program)\)/.test(l) || title === 'self').sort((a, b) => b[1] - a[1]).slice(0, topN).forEach(([l, v]) => console.log(`${(100 * v / busy).toFixed(1).padStart(5)}%  ${(v / 1000 / iv.length).toFixed(2).padStart(6)}  ${l}`)); };
show(self, 'self'); if (process.argv[4] !== 'noincl') show(incl, 'inclusive');
