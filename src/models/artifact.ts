/**
 * Model artifacts on disk: a versioned binary file with a JSON header and 8-byte-aligned typed
 * arrays, written atomically (temp file + rename) with a sha256 of the payload checked on load.
 * Files are written and read array by array in 64 MiB steps, so no Buffer ever holds a whole
 * artifact (a Buffer stops at a few GiB; a dense item-item model can be larger).
 *
 * Layout: "PERSONAE" magic (8 bytes) | header length (uint32 LE) | header JSON (utf8) | padding to
 * 8 | arrays back to back, each padded to 8 bytes. The header lists each array's name, type,
 * length and byte offset, and the payload's sha256.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
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

/** Bytes per write/read/hash step when streaming arrays to or from disk (no Buffer ever holds a whole array). */
const CHUNK = 64 * 1024 * 1024;

/** The bytes of `arr` in steps of at most CHUNK, as views (no copy). */
function* chunksOf(arr: Float32Array | Int32Array): Generator<Uint8Array> {
  const bytes = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
  for (let at = 0; at < bytes.length; at += CHUNK) yield bytes.subarray(at, Math.min(bytes.length, at + CHUNK));
}

const ZEROS = new Uint8Array(8);

/** Header, entries and payload digest of an artifact, computed by streaming its arrays once. */
function headerOf(artifact: ModelArtifact): { prefix: Buffer; entries: ArrayEntry[] } {
  const entries: ArrayEntry[] = [];
  const hash = createHash('sha256');
  let offset = 0;
  for (const [name, arr] of Object.entries(artifact.arrays)) {
    entries.push({ name, type: arr instanceof Float32Array ? 'f32' : 'i32', length: arr.length, offset });
    for (const chunk of chunksOf(arr)) hash.update(chunk);
    const padded = align8(offset + arr.byteLength);
    hash.update(ZEROS.subarray(0, padded - offset - arr.byteLength));
    offset = padded;
  }
  const header: Header = { format: FORMAT_VERSION, kind: artifact.kind, version: artifact.version, config: artifact.config, arrays: entries, sha256: hash.digest('hex') };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(align8(12 + headerBytes.length));
  prefix.write(MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(headerBytes.length, 8);
  headerBytes.copy(prefix, 12);
  return { prefix, entries };
}

/** The whole artifact in one Buffer: for small models and tests; files go through saveArtifact. */
export function encodeArtifact(artifact: ModelArtifact): Buffer {
  const { prefix, entries } = headerOf(artifact);
  const payloadLength = entries.length === 0 ? 0 : align8(entries[entries.length - 1]!.offset + Object.values(artifact.arrays).at(-1)!.byteLength);
  const out = Buffer.alloc(prefix.length + payloadLength);
  prefix.copy(out, 0);
  Object.values(artifact.arrays).forEach((arr, i) => out.set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength), prefix.length + entries[i]!.offset));
  return out;
}

function parseHeader(bytes: Buffer, headerLength: number, source: string): Header {
  let header: Header;
  try {
    header = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength)) as Header;
  } catch {
    throw new DataError('artifact header is not valid JSON: the file is corrupt', { file: source });
  }
  if (header.format !== FORMAT_VERSION) throw new DataError(`artifact format ${header.format} is not supported (expected ${FORMAT_VERSION})`, { file: source });
  return header;
}

export function decodeArtifact(bytes: Buffer, source = 'artifact'): ModelArtifact {
  if (bytes.length < 12 || bytes.toString('latin1', 0, 8) !== MAGIC) throw new DataError('not a personae model artifact (bad magic)', { file: source });
  const headerLength = bytes.readUInt32LE(8);
  const header = parseHeader(bytes, headerLength, source);
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

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
}

/**
 * Writes atomically: a crash leaves either the old file or the new one, never half of one. Arrays
 * are written straight from their memory in 64 MiB steps, so an artifact of any size never needs one
 * Buffer holding it; the temp file is removed when writing fails (a full disk, say).
 * Returns the sha256 of the whole file (what the service records).
 */
export function saveArtifact(path: string, artifact: ModelArtifact): string {
  const tmp = `${path}.tmp-${process.pid}`;
  const { prefix } = headerOf(artifact);
  const fileHash = createHash('sha256').update(prefix);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    writeAll(fd, prefix);
    for (const arr of Object.values(artifact.arrays)) {
      for (const chunk of chunksOf(arr)) {
        writeAll(fd, chunk);
        fileHash.update(chunk);
      }
      const pad = align8(arr.byteLength) - arr.byteLength;
      if (pad > 0) {
        writeAll(fd, ZEROS.subarray(0, pad));
        fileHash.update(ZEROS.subarray(0, pad));
      }
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  return fileHash.digest('hex');
}

function readExactly(fd: number, into: Uint8Array, position: number, file: string): void {
  for (let at = 0; at < into.length; ) {
    const n = readSync(fd, into, at, into.length - at, position + at);
    if (n === 0) throw new DataError('artifact is truncated', { file });
    at += n;
  }
}

/** An artifact loaded from disk and the sha256 of the whole file. */
export interface LoadedArtifact {
  readonly artifact: ModelArtifact;
  readonly fileSha256: string;
}

/**
 * Reads an artifact file array by array in 64 MiB steps (each array lands in its own aligned
 * buffer; no Buffer holds the file), checking the payload checksum as it goes.
 */
export function readArtifactFile(path: string): LoadedArtifact {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const fileHash = createHash('sha256');
    const head = Buffer.alloc(12);
    if (size < 12) throw new DataError('not a personae model artifact (bad magic)', { file: path });
    readExactly(fd, head, 0, path);
    if (head.toString('latin1', 0, 8) !== MAGIC) throw new DataError('not a personae model artifact (bad magic)', { file: path });
    const headerLength = head.readUInt32LE(8);
    const base = align8(12 + headerLength);
    if (base > size) throw new DataError('artifact is truncated', { file: path });
    const prefix = Buffer.alloc(base);
    readExactly(fd, prefix, 0, path);
    fileHash.update(prefix);
    const header = parseHeader(prefix, headerLength, path);
    const payloadHash = createHash('sha256');
    const arrays: Record<string, Float32Array | Int32Array> = {};
    let offset = 0;
    for (const e of header.arrays) {
      if (e.offset !== offset) throw new DataError(`artifact array "${e.name}" is not where the header says`, { file: path });
      const arr = e.type === 'f32' ? new Float32Array(e.length) : new Int32Array(e.length);
      for (const chunk of chunksOf(arr)) {
        readExactly(fd, chunk, base + offset + (chunk.byteOffset - arr.byteOffset), path);
        payloadHash.update(chunk);
        fileHash.update(chunk);
      }
      const padded = align8(offset + arr.byteLength);
      const pad = Buffer.alloc(padded - offset - arr.byteLength);
      if (pad.length > 0) {
        readExactly(fd, pad, base + offset + arr.byteLength, path);
        payloadHash.update(pad);
        fileHash.update(pad);
      }
      arrays[e.name] = arr;
      offset = padded;
    }
    if (base + offset !== size || payloadHash.digest('hex') !== header.sha256) {
      throw new DataError('artifact checksum mismatch: the file is corrupt or truncated', { file: path });
    }
    return { artifact: { kind: header.kind, version: header.version, config: header.config, arrays }, fileSha256: fileHash.digest('hex') };
  } finally {
    closeSync(fd);
  }
}

