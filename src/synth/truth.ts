/**
 * The planted truth of a world: the types of a user's plan, rows and planted personas, and the
 * truth record written to truth.jsonl (as an object and as one JSON line).
 */

export interface PlantedPersona {
  /** Index within the user: 0 = the dominant persona, the last = the minority persona. */
  readonly persona: number;
  /** Planted share of the user's persona rows (weights sum to 1). */
  readonly weight: number;
  /** Category names, the persona's main category first. */
  readonly categories: readonly string[];
  /** Bridging users only: the side whose view of the contested items this persona holds. */
  readonly side?: 'A' | 'B';
}

/** 'bridge': a bridging user (holds both sides; see Population in config.ts). */
export type Group = 'A' | 'B' | 'bridge';

/** Ground truth of one user. */
export interface UserTruth {
  readonly user: string;
  readonly group?: Group;
  readonly personas: readonly PlantedPersona[];
}

/** One user's rows in time order (reused buffers: copy what you keep). */
export class UserRows {
  length = 0;
  readonly item: Int32Array;
  readonly rating: Uint8Array;
  readonly timestamp: Float64Array;
  /** The persona that produced the row, -1 for noise rows. */
  readonly persona: Int8Array;
  /** Split populations: the side (0 = A, 1 = B) whose view of the contested items produced the row; -1 for noise rows and mixed populations. */
  readonly side: Int8Array;
  constructor(capacity: number) {
    this.item = new Int32Array(capacity);
    this.rating = new Uint8Array(capacity);
    this.timestamp = new Float64Array(capacity);
    this.persona = new Int8Array(capacity);
    this.side = new Int8Array(capacity);
  }
}

/**
 * A user's plan: group (-1 mixed, 0 = A, 1 = B, 2 = bridging), personas as category indices, and
 * each persona's side (0 = A, 1 = B; -1 in mixed populations).
 */
export interface UserPlan {
  readonly group: -1 | 0 | 1 | 2;
  readonly weights: readonly number[];
  readonly categories: readonly (readonly number[])[];
  readonly sides: readonly number[];
}

/** A user's plan plus each persona's style mixture per category (see World.plantedTaste). */
export interface PlantedTaste {
  readonly plan: UserPlan;
  readonly styleMix: readonly (readonly Float64Array[])[];
}

const GROUP_NAMES: readonly Group[] = ['A', 'B', 'bridge'];
const SIDE_NAMES = ['A', 'B'] as const;

/** The truth record of user u's plan (as written to truth.jsonl); `categoryNames` names category indices. */
export function userTruthOf(categoryNames: readonly string[], u: number, plan: UserPlan): UserTruth {
  const personas = plan.weights.map((weight, k): PlantedPersona => {
    const p = { persona: k, weight, categories: plan.categories[k]!.map((c) => categoryNames[c]!) };
    return plan.group === 2 ? { ...p, side: SIDE_NAMES[plan.sides[k]!]! } : p;
  });
  return plan.group < 0 ? { user: String(u + 1), personas } : { user: String(u + 1), group: GROUP_NAMES[plan.group]!, personas };
}

/**
 * `userTruthOf` as one JSON line (the same text JSON.stringify gives, built faster); `namesJson`
 * holds JSON.stringify of every category name.
 */
export function userTruthLine(namesJson: readonly string[], u: number, plan: UserPlan): string {
  let line = `{"user":"${u + 1}"`;
  if (plan.group >= 0) line += `,"group":"${GROUP_NAMES[plan.group]!}"`;
  line += ',"personas":[';
  for (let k = 0; k < plan.weights.length; k++) {
    if (k > 0) line += ',';
    line += `{"persona":${k},"weight":${plan.weights[k]!},"categories":[${plan.categories[k]!.map((c) => namesJson[c]!).join(',')}]`;
    line += plan.group === 2 ? `,"side":"${SIDE_NAMES[plan.sides[k]!]!}"}` : '}';
  }
  return `${line}]}`;
}
