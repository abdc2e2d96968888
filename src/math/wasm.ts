/**
 * Loading of the project's WebAssembly kernels (build/wasm/*.wasm, built by `npm run build:wasm`)
 * over shared memories, for src/math/dense.ts and src/math/factor-kernels.ts. Imports nothing
 * heavy: pool workers load it to run their share of a kernel.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// --- minimal WebAssembly typings (lib ES2022 has none; keep them local, not global) ---
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/**
 * The instantiator of build/wasm/`file` (the project root: src/math/ under tsx and dist/math/ are
 * both two levels down), compiled on first use; its exports typed as K. `owner` names the caller
 * in the error for a missing file.
 */
export function wasmKernel<K>(file: string, owner: string): (memory: WasmMemory) => K {
  const url = new URL(`../../build/wasm/${file}`, import.meta.url);
  let compiled: object | undefined;
  const module = (): object => {
    if (compiled) return compiled;
    const path = fileURLToPath(url);
    if (!existsSync(path)) {
      throw new Error(`${owner}: the WebAssembly kernel ${path} is missing; run \`npm run build:wasm\` (or \`npm run build\`)`);
    }
    compiled = new WA.Module(readFileSync(path));
    return compiled;
  };
  return (memory) => new WA.Instance(module(), { env: { memory } }).exports as unknown as K;
}

/**
 * A shared memory of at least `bytes` (whole 64 KiB pages, fixed size); past 4 GiB a RangeError
 * that starts with `what` (e.g. "SpdWorkspace: order 40000").
 */
export function sharedMemory(bytes: number, what: string): WasmMemory {
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  if (pages > 65536) throw new RangeError(`${what} needs ${(bytes / 2 ** 30).toFixed(1)} GiB, over the 4 GiB of a WebAssembly memory`);
  return new WA.Memory({ initial: pages, maximum: pages, shared: true });
}

/** Rounds a byte offset up to 64 (a cache line; every kernel region starts aligned). */
export function align64(x: number): number {
  return Math.ceil(x / 64) * 64;
}
