/** Social edge files (src/data/social.ts): CSV, TSV and JSONL, and errors naming file, line and field. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSocialEdges, readSocialFile, socialFormatOf } from '../src/data/social.js';

test('csv with any column order, quoted ids, kinds, blank lines and repeated edges', () => {
  const text = 'kind,friend,user\n,b,a\nfollow,"c,1",a\n\nfriend,a,b\nfollow,"say ""hi""",b\n';
  const e = parseSocialEdges(text, 'f.csv', 'csv');
  assert.deepEqual(e.user, ['a', 'a', 'b']);
  assert.deepEqual(e.friend, ['b', 'c,1', 'say "hi"']);
  assert.deepEqual(e.kind, ['friend', 'follow', 'follow'], 'b-a repeats the undirected a-b and is kept once');
});

test('tsv and jsonl; a follow both ways is two edges, numeric JSON ids become strings', () => {
  assert.deepEqual(parseSocialEdges('user\tfriend\tkind\nx\ty\tfollow\ny\tx\tfollow\n', 'f.tsv', 'tsv').user, ['x', 'y']);
  const j = parseSocialEdges('{"user":"u1","friend":7}\n\n{"user":"u2","friend":"u1","kind":"follow"}\n', 'f.jsonl', 'jsonl');
  assert.deepEqual([j.user, j.friend, j.kind], [['u1', 'u2'], ['7', 'u1'], ['friend', 'follow']]);
  assert.equal(socialFormatOf('a/B.JSONL'), 'jsonl');
  assert.equal(socialFormatOf('edges.tsv'), 'tsv');
  assert.equal(socialFormatOf('edges.txt'), 'csv');
});

test('errors name the file, the line and the field', () => {
  const bad: [string, 'csv' | 'jsonl', RegExp][] = [
    ['user,friend\na,b\nc,\n', 'csv', /^f:3 field "friend": empty friend id$/],
    ['user,friend\na,b\n\nc\n', 'csv', /^f:4 field "friend": missing friend$/],
    ['user,friends\na,b\n', 'csv', /^f:1 field "friend": the header has no "friend" column \(found: user, friends\)$/],
    ['user,friend,kind\na,b,likes\n', 'csv', /^f:2 field "kind": kind must be "friend" or "follow", got "likes"$/],
    ['user,friend\na,a\n', 'csv', /^f:2 field "friend": a user cannot be their own friend \("a"\)$/],
    ['user,friend\n"a,b\n', 'csv', /^f:2: unterminated quoted field$/],
    ['{"user":"a","friend":"b"}\n{"user":"a",\n', 'jsonl', /^f:2: not valid JSON/],
    ['{"user":"a","friend":"b"}\n[1,2]\n', 'jsonl', /^f:2: expected a JSON object/],
    ['{"user":true,"friend":"b"}\n', 'jsonl', /^f:1 field "user": user must be a string id, got true$/],
    ['\n\n', 'csv', /^f: empty file/],
  ];
  for (const [text, format, want] of bad) assert.throws(() => parseSocialEdges(text, 'f', format), (e: Error) => e.name === 'DataError' && want.test(e.message), `${JSON.stringify(text)} -> ${want}`);
});

test('readSocialFile reads by extension and names a missing file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'social-'));
  const p = join(dir, 'edges.jsonl');
  writeFileSync(p, '{"user":"a","friend":"b"}\n');
  assert.deepEqual(readSocialFile(p).friend, ['b']);
  assert.throws(() => readSocialFile(join(dir, 'none.csv')), /none\.csv: cannot read the social edge file \(ENOENT\)/);
});
