/**
 * bench/scale.ts (`npm run bench:scale`) end to end on a tiny world folder: one child process per
 * model, a row with figures per model that fits, the error of one that refuses, and the
 * persona-epoch / bpr-epoch ratio line. Figures are not checked (timing), only that they are there.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeWorld } from '../src/synth/files.js';
import { epochRatio, scaleTable, type ScaleRow } from '../bench/scale.js';

const BENCH = fileURLToPath(new URL('../bench/scale.ts', import.meta.url));

test('scaleTable and epochRatio', () => {
  const rows: ScaleRow[] = [
    { model: 'bpr', ok: true, fitS: 2, fitCpuS: 2.5, epochs: 10, epochS: 0.2, evalS: 1, peakRssMiB: 100, ndcg20: 0.1 },
    { model: 'personas', ok: true, fitS: 9, fitCpuS: 9, epochs: 20, epochS: 0.5, evalS: 3, peakRssMiB: 200, ndcg20: 0.12 },
    { model: 'ease', ok: false, error: 'ease.maxItems: too big', peakRssMiB: 90 },
  ];
  assert.equal(epochRatio(rows), 2.5);
  assert.equal(epochRatio(rows.slice(1)), null, 'no bpr row: no ratio');
  const t = scaleTable(rows);
  assert.equal(t.length, 5);
  assert.equal(t[2], '| bpr | 2.0 | 2.5 | 10 | 0.200 | 1.0 | 100 | 0.1000 |');
  assert.equal(t[4], '| ease | ease.maxItems: too big | | | | | 90 | |');
});

test('npm run bench:scale on a tiny world: a child per model, rows and the epoch ratio', { timeout: 10 * 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'personae-scale-test-'));
  try {
    await writeWorld({ seed: 3, users: 300, items: 120, meanInteractions: 20 }, join(dir, 'world'));
    const out = join(dir, 'scale.json');
    const r = spawnSync(process.execPath, ['--import', 'tsx', BENCH, '--data', join(dir, 'world'), '--models', 'pop,bpr,personas', '--threads', '1', '--heap', '1024', '--out', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\| model \| fit s \| fit CPU s \| epochs \| s\/epoch \| eval s \| peak RSS MiB \| ndcg@20 \|/);
    assert.match(r.stdout, /persona epoch \/ bpr epoch \(this run\): \d+\.\d/);
    const json = JSON.parse(readFileSync(out, 'utf8')) as { rows: ScaleRow[]; personaBprEpochRatio: number };
    assert.deepEqual(json.rows.map((x) => [x.model, x.ok]), [['pop', true], ['bpr', true], ['personas', true]]);
    for (const row of json.rows) {
      assert.ok(row.peakRssMiB! > 0 && row.fitS! >= 0 && row.evalS! >= 0, JSON.stringify(row));
      assert.ok(row.ndcg20! > 0 && row.ndcg20! < 1);
    }
    assert.equal(json.rows[1]!.epochs, 150, 'bpr runs its default 150 epochs');
    assert.equal(json.rows[2]!.epochs, 20);
    assert.ok(json.personaBprEpochRatio > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
