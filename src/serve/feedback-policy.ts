/**
 * Which feedback types exist and which of them count as positive (the service's configuration:
 * --positive, the config file's feedbackTypes), and the test of one event against it.
 */
import { ConfigError } from '../errors.js';

/** Which feedback types exist and which count as positive (configuration). */
export interface FeedbackTypeRule {
  positive: boolean;
  /** Positive only when value >= minValue (e.g. ratings). */
  minValue?: number;
}
export type FeedbackPolicy = Readonly<Record<string, FeedbackTypeRule>>;

export const DEFAULT_FEEDBACK_TYPES: FeedbackPolicy = {
  view: { positive: false },
  click: { positive: false },
  like: { positive: true },
  dislike: { positive: false },
  purchase: { positive: true },
  rating: { positive: true, minValue: 4 },
};

/**
 * A policy from a list of the positive types, e.g. "like,purchase,rating>=4": the listed types are
 * positive (with an optional minimum value); the other default types stay, as not positive.
 */
export function parseFeedbackPolicy(spec: string): FeedbackPolicy {
  const out: Record<string, FeedbackTypeRule> = {};
  for (const name of Object.keys(DEFAULT_FEEDBACK_TYPES)) out[name] = { positive: false };
  for (const raw of spec.split(',')) {
    const part = raw.trim();
    if (part === '') continue;
    const m = /^([A-Za-z0-9_.-]{1,64})(?:>=(-?\d+(?:\.\d+)?))?$/.exec(part);
    if (!m) throw new ConfigError(`"${part}": expected a type name, optionally with a minimum value (e.g. rating>=4)`, '--positive');
    out[m[1]!] = m[2] !== undefined ? { positive: true, minValue: Number(m[2]) } : { positive: true };
  }
  return out;
}

export function isPositive(policy: FeedbackPolicy, type: string, value: number): boolean {
  const rule = policy[type];
  if (!rule || !rule.positive) return false;
  return rule.minValue === undefined || value >= rule.minValue;
}
