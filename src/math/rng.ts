/**
 * Seeded random numbers. One root seed derives every stream: `rng.derive('bpr', epoch)` gives an
 * independent generator whose output depends only on the root seed and the labels, never on the
 * order in which streams are created or on the number of threads. No `Math.random` in src/.
 *
 * Generator: xoshiro128** (32-bit state words, fast with JS integer ops); seeding and label
 * mixing use a 32-bit murmur3-style finaliser.
 */

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hashLabel(h: number, label: string | number): number {
  if (typeof label === 'number') {
    h = mix32(h ^ mix32((label >>> 0) + 0x9e3779b9));
    // high bits of large integers
    h = mix32(h ^ Math.floor(label / 4294967296));
    return h;
  }
  for (let i = 0; i < label.length; i++) h = mix32(h ^ (label.charCodeAt(i) + 0x632be5ab));
  return mix32(h ^ label.length);
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** The seed this stream was made from; derived streams hash their labels into it. */
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    let h = mix32(this.seed ^ 0x5bd1e995);
    this.s0 = h = mix32(h + 0x9e3779b9);
    this.s1 = h = mix32(h + 0x9e3779b9);
    this.s2 = h = mix32(h + 0x9e3779b9);
    this.s3 = h = mix32(h + 0x9e3779b9);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** An independent stream for the given labels (e.g. a model name and a user index). */
  derive(...labels: (string | number)[]): Rng {
    let h = mix32(this.seed ^ 0x27d4eb2f);
    for (const l of labels) h = hashLabel(h, l);
    return new Rng(h);
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n), n <= 2^32 (unbiased by rejection). */
  int(n: number): number {
    if (n <= 0) throw new RangeError(`Rng.int: n must be positive, got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }

  /** Standard normal (Box-Muller, one value per call). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Gamma(shape, 1) by Marsaglia-Tsang (shape > 0). */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.next() || Number.MIN_VALUE, 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
