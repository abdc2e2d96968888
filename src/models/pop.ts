/** `pop`: every user gets the most popular training items. Deterministic under the tie rule. */
import { z } from 'zod';
import type { ModelArtifact, ModelSpec, Recommender, TrainSet, UserBatch } from './model.js';

export const PopConfig = z.object({}).strict();
export type PopConfig = z.infer<typeof PopConfig>;

export class PopularityScorer implements Recommender {
  readonly name = 'pop';
  readonly params: PopConfig = {};
  private scores: Float32Array = new Float32Array(0);

  async fit(train: TrainSet): Promise<void> {
    this.scores = Float32Array.from(train.itemPopularity);
  }

  scoreBatch(batch: UserBatch, out: Float32Array): void {
    const n = this.scores.length;
    for (let b = 0; b < batch.users.length; b++) out.set(this.scores, b * n);
  }

  toArtifact(): ModelArtifact {
    return { kind: 'pop', version: 1, config: {}, arrays: { scores: this.scores } };
  }

  static fromArtifact(a: ModelArtifact): PopularityScorer {
    const m = new PopularityScorer();
    m.scores = a.arrays.scores as Float32Array;
    return m;
  }
}

export const popSpec: ModelSpec = {
  name: 'pop',
  description: 'most popular training items (non-personalised reference)',
  schema: PopConfig,
  create: () => new PopularityScorer(),
  fromArtifact: (a) => PopularityScorer.fromArtifact(a),
  tuningGrid: [],
};
