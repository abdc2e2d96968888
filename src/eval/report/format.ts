/** How reports print a metric value: 4 decimals (1 from 100 up), `n/a` when missing. */
export function formatNumber(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  return Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(digits);
}
