/** The flags of a bench's command line: `opt(name)` the value after a flag, `num(name, def)` a positive number (an error naming the flag otherwise). */
export function benchArgs(argv: readonly string[]): { opt: (name: string) => string | undefined; num: (name: string, def: number) => number } {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, def: number): number => {
    const v = opt(name);
    if (v === undefined) return def;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, got ${v}`);
    return n;
  };
  return { opt, num };
}
