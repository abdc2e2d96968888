import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { IdMap } from '../src/data/ids.js';
import { csrFromPairs, transpose, csrHas } from '../src/data/csr.js';
import { Rng } from '../src/math/rng.js';
import { TopKSelector, topKBySort } from '../src/math/topk.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeArtifact, encodeArtifact, readArtifactFile, saveArtifact } from '../src/models/artifact.js';

test('IdMap is collision-free and ranks numeric ids numerically, others as strings', () => {
  const m = new IdMap();
  for (const id of ['10', '9', '100', '9']) m.intern(id);
  assert.equal(m.size, 3);
  assert.deepEqual([...m.ranks()], [1, 0, 2]);
  const s = new IdMap();
  for (const id of ['b', '10', 'a', '9']) s.intern(id);
  assert.equal(s.numeric, false);
  assert.deepEqual([...s.ranks()], [3, 0, 2, 1]); // "10" < "9" < "a" < "b"
  // "17" and "017" are different IDs even though they are the same number
  const z = new IdMap();
  assert.deepEqual([z.intern('17'), z.intern('017'), z.intern('17'), z.intern('0')], [0, 1, 0, 2]);
  assert.equal(z.lookup('017'), 1);
  assert.equal(z.lookup('18'), -1);
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string(), fc.nat(30).map(String), fc.nat(30).map((n) => `0${n}`)), { maxLength: 50 }), (ids) => {
      const map = new IdMap();
      const idx = ids.map((id) => map.intern(id));
      assert.equal(map.size, new Set(ids).size);
      ids.forEach((id, k) => assert.equal(map.id(idx[k]!), id));
    }),
  );
});

test('CSR from pairs sorts and de-duplicates rows; transpose round-trips', () => {
  const m = csrFromPairs(3, 4, Int32Array.of(0, 0, 2, 0, 2), Int32Array.of(3, 1, 0, 3, 2));
  assert.deepEqual([...m.indptr], [0, 2, 2, 4]);
  assert.deepEqual([...m.indices], [1, 3, 0, 2]);
  const t = transpose(m);
  assert.deepEqual([...t.indptr], [0, 1, 2, 3, 4]);
  assert.deepEqual([...transpose(t).indices], [...m.indices]);
  assert.ok(csrHas(m, 2, 2) && !csrHas(m, 1, 2));
});

test('Rng streams are reproducible and derived streams independent of creation order', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  assert.deepEqual([a.nextU32(), a.nextU32()], [b.nextU32(), b.nextU32()]);
  const x1 = new Rng(42).derive('bpr', 3).next();
  const root = new Rng(42);
  root.derive('other');
  root.next();
  assert.equal(root.derive('bpr', 3).next(), x1);
  assert.notEqual(new Rng(42).derive('bpr', 4).next(), x1);
  // uniformity sanity: mean of 1e5 draws within 0.01 of 0.5; int(n) stays in range
  const r = new Rng(1);
  let s = 0;
  for (let i = 0; i < 1e5; i++) s += r.next();
  assert.ok(Math.abs(s / 1e5 - 0.5) < 0.01);
  for (let i = 0; i < 1000; i++) assert.ok(r.int(7) < 7);
});

test('TopKSelector equals a full sort, with ties by id rank, NaN last and exclusions', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: -3, max: 3 }).map((x) => x / 2), fc.constant(Number.NaN)), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 1, max: 15 }),
      fc.integer({ min: 0, max: 1000 }),
      (values, k, seed) => {
        const n = values.length;
        const scores = Float32Array.from(values);
        const rng = new Rng(seed);
        const ranks = rng.shuffle(Int32Array.from({ length: n }, (_, i) => i));
        const candidates = Int32Array.from({ length: n }, (_, i) => i).filter(() => rng.next() < 0.8);
        const exclude = Int32Array.from({ length: n }, (_, i) => i).filter(() => rng.next() < 0.2);
        const out = new Int32Array(k);
        const got = out.slice(0, new TopKSelector(k).select(scores, candidates, ranks, exclude, out));
        assert.deepEqual([...got], [...topKBySort(scores, candidates, ranks, exclude, k)]);
      },
    ),
    { numRuns: 300, seed: 42 },
  );
});

test('artifacts round-trip and a corrupted payload is refused', () => {
  const art = { kind: 'x', version: 1, config: { a: 1 }, arrays: { v: Float32Array.of(1, 2, 3), i: Int32Array.of(7) } };
  const bytes = encodeArtifact(art);
  const back = decodeArtifact(bytes);
  assert.deepEqual([...back.arrays.v!], [1, 2, 3]);
  assert.deepEqual([...back.arrays.i!], [7]);
  assert.deepEqual(back.config, { a: 1 });
  bytes[bytes.length - 1] ^= 0xff;
  assert.throws(() => decodeArtifact(bytes, 'm.model'), /m\.model: artifact checksum mismatch/);
});

test('artifact files stream in chunks: same bytes as the in-memory encoding, file hash, corruption and truncation named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'personae-artifact-'));
  try {
    // 17M floats = 68 MB: more than one 64 MiB chunk, and an odd-length array that needs padding
    const big = new Float32Array(17_000_000);
    for (let i = 0; i < big.length; i += 9973) big[i] = i * 0.5;
    const art = { kind: 'x', version: 3, config: { a: 1, s: 'two' }, arrays: { odd: Int32Array.of(1, 2, 3), big, tail: Float32Array.of(-1.5) } };
    const path = join(dir, 'm.model');
    const fileSha = saveArtifact(path, art);
    const bytes = readFileSync(path);
    assert.equal(fileSha, createHash('sha256').update(bytes).digest('hex'));
    assert.ok(encodeArtifact(art).equals(bytes), 'the streamed file is byte-identical to encodeArtifact');
    const { artifact: back, fileSha256 } = readArtifactFile(path);
    assert.equal(fileSha256, fileSha);
    assert.deepEqual(back.config, { a: 1, s: 'two' });
    assert.deepEqual([...back.arrays.odd!], [1, 2, 3]);
    assert.deepEqual([...back.arrays.tail!], [-1.5]);
    assert.ok(back.arrays.big instanceof Float32Array && back.arrays.big.length === big.length);
    assert.equal(back.arrays.big[9973 * 1000], 9973 * 1000 * 0.5);
    assert.equal(back.arrays.big[big.length - 1], big[big.length - 1]);
    // one flipped byte deep in the second chunk
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 100]! ^= 0x01;
    writeFileSync(path, flipped);
    assert.throws(() => readArtifactFile(path), (e: Error) => e.message.includes(path) && /checksum mismatch/.test(e.message));
    writeFileSync(path, bytes);
    truncateSync(path, bytes.length - 8);
    assert.throws(() => readArtifactFile(path), (e: Error) => e.message.includes(path) && /truncated/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed artifact write leaves no temp file and keeps what was there', () => {
  const dir = mkdtempSync(join(tmpdir(), 'personae-artifact-'));
  try {
    // the target is a folder, so the final rename fails after the temp file is written
    const target = join(dir, 'taken');
    mkdirSync(target);
    assert.throws(() => saveArtifact(target, { kind: 'x', version: 1, config: {}, arrays: { v: Float32Array.of(1) } }));
    assert.deepEqual(readdirSync(dir), ['taken']);
    assert.ok(existsSync(target));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
