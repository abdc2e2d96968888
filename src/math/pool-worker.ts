/** Worker side of `WorkerPool`: imports the task's module once and calls the named export. */
import { parentPort } from 'node:worker_threads';

type Task = { moduleUrl: string; fn: string; args: unknown[] };
const modules = new Map<string, Record<string, unknown>>();

parentPort!.on('message', async (task: Task) => {
  try {
    let mod = modules.get(task.moduleUrl);
    if (!mod) {
      mod = (await import(task.moduleUrl)) as Record<string, unknown>;
      modules.set(task.moduleUrl, mod);
    }
    const fn = mod[task.fn];
    if (typeof fn !== 'function') throw new Error(`worker: ${task.moduleUrl} has no exported function ${task.fn}`);
    const value: unknown = await (fn as (...a: unknown[]) => unknown)(...task.args);
    parentPort!.postMessage({ ok: true, value });
  } catch (err) {
    parentPort!.postMessage({ ok: false, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
  }
});
