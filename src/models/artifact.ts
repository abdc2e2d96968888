/**
 * Model artifacts on disk: a versioned binary file with a JSON header and 8-byte-aligned typed
 * arrays, written atomically (temp file + rename) with a sha256 of the payload checked on load.
 *
 * Layout: "PERSONAE" magic (8 bytes) | header length (uint32 LE) | header JSON (utf8) | padding to
 * 8 | arrays back to back, each padded to 8 bytes. The header lists each array's name, type,
 * length and byte offset, and the payload's sha256.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { DataError } from '../errors.js';
import type { ModelArtifact, ModelParams } from './model.js';

const MAGIC = 'PERSONAE';
const FORMAT_VERSION = 1;

interface ArrayEntry {
  name: string;
  type: 'f32' | 'i32';
  length: number;
  offset: number;
}

interface Header {
  format: number;
  kind: string;
  version: number;
  config: ModelParams;
  arrays: ArrayEntry[];
  sha256: string;
}

const align8 = (n: number): number => (n + 7) & ~7;

export function encodeArtifact(artifact: ModelArtifact): Buffer {
  const entries: ArrayEntry[] = [];
  let offset = 0;
  for (const [name, arr] of Object.entries(artifact.arrays)) {
    entries.push({ name, type: arr instanceof Float32Array ? 'f32' : 'i32', length: arr.length, offset });
    offset = align8(offset + arr.byteLength);
  }
  const payload = Buffer.alloc(offset);
  Object.values(artifact.arrays).forEach((arr, i) => {
    Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength).copy(payload, entries[i]!.offset);
  });
  const header: Header = {
    format: FORMAT_VERSION,
    kind: artifact.kind,
    version: artifact.version,
    config: artifact.config,
    arrays: entries,
    sha256: createHash('sha256').update(payload).digest('hex'),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(align8(12 + headerBytes.length));
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(headerBytes.length, 8);
  headerBytes.copy(prefix, 12);
  return Buffer.concat([prefix, payload]);
}

export function decodeArtifact(bytes: Buffer, source = 'artifact'): ModelArtifact {
  if (bytes.length < 12 || bytes.toString('latin1', 0, 8) !== MAGIC) throw new DataError('not a personae model artifact (bad magic)', { file: source });
  const headerLength = bytes.readUInt32LE(8);
  const header = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength)) as Header;
  if (header.format !== FORMAT_VERSION) throw new DataError(`artifact format ${header.format} is not supported (expected ${FORMAT_VERSION})`, { file: source });
  const base = align8(12 + headerLength);
  const payload = bytes.subarray(base);
  const digest = createHash('sha256').update(payload).digest('hex');
  if (digest !== header.sha256) throw new DataError('artifact checksum mismatch: the file is corrupt or truncated', { file: source });
  const arrays: Record<string, Float32Array | Int32Array> = {};
  for (const e of header.arrays) {
    // copy into a fresh, aligned buffer
    const bytesOf = payload.subarray(e.offset, e.offset + e.length * 4);
    const copy = new ArrayBuffer(e.length * 4);
    new Uint8Array(copy).set(bytesOf);
    arrays[e.name] = e.type === 'f32' ? new Float32Array(copy) : new Int32Array(copy);
  }
  return { kind: header.kind, version: header.version, config: header.config, arrays };
}

/** Writes atomically: a crash leaves either the old file or the new one, never half of one. */
export function saveArtifact(path: string, artifact: ModelArtifact): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, encodeArtifact(artifact));
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

export function loadArtifact(path: string): ModelArtifact {
  return decodeArtifact(readFileSync(path), path);
}
