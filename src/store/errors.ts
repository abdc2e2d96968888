/**
 * Store failures the service answers with 503 instead of 500: a full disk, a read-only store, an
 * unreachable or closed database (SQLite error codes, PostgreSQL SQLSTATEs and socket errors).
 * `StoreHealth` logs them once per interval (with how many more there were) instead of a stack
 * trace per request, and remembers whether writes work for /readyz.
 */

export type StoreFailureCode = 'store_full' | 'store_read_only' | 'store_unavailable';

export interface StoreFailure {
  code: StoreFailureCode;
  message: string;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300']);

/** The store failure an error is, or null when it is something else (a bug: 500). */
export function storeFailure(err: unknown): StoreFailure | null {
  if (typeof err !== 'object' || err === null) return null;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const msg = typeof e.message === 'string' ? e.message : '';
  if (code === 'SQLITE_FULL' || code === '53100' || code === 'ENOSPC' || /database or disk is full|no space left on device/i.test(msg)) {
    return { code: 'store_full', message: 'the store is full: no write can be stored until space is freed' };
  }
  if (code.startsWith('SQLITE_READONLY') || code === '25006' || code === 'EROFS' || /read-only (sql )?transaction|readonly database/i.test(msg)) {
    return { code: 'store_read_only', message: 'the store is read-only: writes are refused' };
  }
  if (
    code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN' || code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code.startsWith('08') || UNREACHABLE.has(code) ||
    /database connection is not open|memory store is not open|Connection terminated|connection timeout|timeout exceeded when trying to connect|Cannot use a pool after calling end/i.test(msg)
  ) {
    return { code: 'store_unavailable', message: 'the store is unavailable; retry shortly' };
  }
  return null;
}

/** Store failures seen by this process: logged once per interval, and the state of writes. */
export class StoreHealth {
  private lastLog = Number.NEGATIVE_INFINITY;
  private suppressed = 0;
  /** The last write failure, or null since a write (or write probe) succeeded. */
  writeFailure: StoreFailure | null = null;
  private probedAt = Number.NEGATIVE_INFINITY;
  private probing: Promise<void> | null = null;

  constructor(
    private readonly log: (line: string) => void,
    readonly intervalMs = 10_000,
  ) {}

  /** Records a failure; logs it unless one was logged within the interval (then counts it). */
  note(f: StoreFailure, detail: string, write: boolean): void {
    if (write) this.writeFailure = f;
    const now = Date.now();
    if (now - this.lastLog < this.intervalMs) {
      this.suppressed++;
      return;
    }
    const more = this.suppressed > 0 ? ` (${this.suppressed} more store failure${this.suppressed === 1 ? '' : 's'} in the last ${Math.round((now - this.lastLog) / 1000)} s)` : '';
    this.lastLog = now;
    this.suppressed = 0;
    this.log(`store failure ${f.code}: ${detail}${more}`);
  }

  wrote(): void {
    this.writeFailure = null;
  }

  /**
   * Whether writes work: the store's write probe, run at most once per `everyMs` (concurrent
   * callers share it). Resolves to the failure, or null.
   */
  async writable(probe: () => Promise<void>, everyMs = 2000): Promise<StoreFailure | null> {
    const now = Date.now();
    if (now - this.probedAt >= everyMs) {
      this.probedAt = now;
      this.probing ??= probe()
        .then(() => this.wrote())
        .catch((err: unknown) => {
          const f = storeFailure(err) ?? { code: 'store_unavailable' as const, message: 'the store refused a write' };
          this.note(f, err instanceof Error ? err.message : String(err), true);
        })
        .finally(() => (this.probing = null));
    }
    if (this.probing) await this.probing;
    return this.writeFailure;
  }
}
