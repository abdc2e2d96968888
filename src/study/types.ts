/**
 * The contract every `personae study <name>` follows. A study states a claim, measures it, and
 * computes its verdict from the numbers (never hard-coded). Its JSON (`--out FILE`) is read by
 * scripts outside the project: the field names below are stable; studies add fields inside
 * `results`, never rename these.
 */
import type { InteractionLog } from '../data/dataset.js';

export type Verdict = 'holds' | 'does-not-hold' | 'mixed';

/** One chart a study adds to its HTML report (rendered as inline SVG, no script needed). */
export interface StudyChart {
  title: string;
  kind: 'line' | 'bar';
  /** x values (line) or category labels (bar). */
  x: (number | string)[];
  xLabel: string;
  yLabel: string;
  series: {
    name: string;
    y: (number | null)[];
    /** Optional 95% interval per point. */
    ci?: ([number, number] | null)[];
  }[];
}

export interface StudyJson {
  study: string;
  claim: string;
  verdict: Verdict;
  /** Why the verdict came out as it did, computed from the numbers. */
  verdictReason: string;
  /** The data the study ran on (`default world`, a world description, or a dataset path). */
  data: string;
  seed: number;
  results: Record<string, unknown>;
  /** Markdown table(s) printed on stdout. */
  table: string;
  charts: StudyChart[];
  seconds: number;
  manifest: { personae: string; node: string; startedAt: string; threads: number };
}

/** What the CLI hands to a study. */
export interface StudyContext {
  seed: number;
  threads: number;
  /**
   * The dataset when the user gave `--data`; null means the study generates its own world (the
   * default world, or the special world it needs, e.g. the 51/49 population for `aggregation`).
   */
  log: InteractionLog | null;
  dataLabel: string | null;
  /** Progress lines (the CLI draws bars on a TTY, plain lines otherwise). */
  onProgress?: (stage: string, done: number, total: number, detail?: string) => void;
  /** Smaller sizes for tests (fewer epochs, fewer users); the verdict logic is unchanged. */
  quick?: boolean;
  /** How `log` is split (the CLI's --protocol / --min-rating); default temporal-user, 4. */
  protocol?: 'temporal-user' | 'temporal-global' | 'users-holdout';
  minRating?: number;
}

export interface Study {
  name: string;
  claim: string;
  run(ctx: StudyContext): Promise<Omit<StudyJson, 'manifest' | 'seconds' | 'seed'>>;
}
