/**
 * Worker-thread entry that builds the service's ANN index (ann-retrieval.ts) off the event loop:
 * it is sent the item vectors and the index options, builds the HNSW index on one thread (the same
 * graph as a build on the main thread), writes it to the file it was given and says so; the service
 * loads the file into its own index.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AnnIndex, type AnnIndexOptions } from '../models/ann.js';

export interface AnnBuildInput {
  items: Int32Array;
  vectors: Float32Array;
  dim: number;
  options: AnnIndexOptions;
  file: string;
}

export type AnnBuildMessage = { type: 'done' } | { type: 'error'; message: string };

if (parentPort && (workerData as { personaeAnnBuild?: boolean } | null)?.personaeAnnBuild) {
  const port = parentPort;
  port.once('message', (input: AnnBuildInput) => {
    try {
      new AnnIndex(input.items, input.vectors, input.dim, input.options).save(input.file);
      port.postMessage({ type: 'done' } satisfies AnnBuildMessage);
    } catch (err) {
      port.postMessage({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies AnnBuildMessage);
    }
  });
}
