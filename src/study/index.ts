/** The registry of `personae study <name>`: every study, by name, in the order `--help` lists them. */
import { aggregationStudy } from './aggregation.js';
import { crowdingStudy } from './crowding.js';
import { dimsStudy } from './dims.js';
import { hashingStudy } from './hashing.js';
import { profileSwapStudy } from './profile-swap.js';
import { recoveryStudy } from './recovery.js';
import type { Study } from './types.js';
import { confidenceStudy } from './confidence.js';
import { onboardingStudy } from './onboarding.js';
import { routerStudy } from './router.js';
import { feedbackLoopStudy } from './feedback-loop.js';
import { memoryStudy } from './memory.js';
import { socialStudy } from './social.js';
// onboarding helper: import here

export const STUDIES: readonly Study[] = [
  crowdingStudy,
  aggregationStudy,
  recoveryStudy,
  dimsStudy,
  hashingStudy,
  profileSwapStudy,
  onboardingStudy,
  confidenceStudy,
  routerStudy,
  feedbackLoopStudy,
  memoryStudy,
  socialStudy,
  // onboarding helper: register here
];

export function studyNames(): string[] {
  return STUDIES.map((s) => s.name);
}

/** The study of that name, or undefined. */
export function findStudy(name: string): Study | undefined {
  return STUDIES.find((s) => s.name === name);
}

export type { Study, StudyChart, StudyContext, StudyJson, Verdict } from './types.js';
