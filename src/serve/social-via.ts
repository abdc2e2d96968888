/**
 * "Via a friend" for the `social` model (src/models/social.ts): an item in a user's list that
 * friends' consumption pushed up names the friend whose consumption contributed most to its score
 * (`SocialModel.explain`; every friend who consumed the item adds the user's influence weight, so
 * on a tie the first in the model's user order is named), how many friends consumed it, and what
 * they added to the score together. Only friends still there are named: a friend deleted after the
 * model was trained (`usable` false) is left out, as are users the model was not trained on.
 */
import type { IdMap } from '../data/ids.js';
import type { Recommender } from '../models/model.js';
import { SocialModel } from '../models/social.js';
import { round4 } from './answers.js';
import type { ViaFriend } from './schemas.js';

/** Whether a model's answers can name other users (then an erasure changes answers beyond the erased user's own). */
export function namesFriends(model: Recommender): model is SocialModel {
  return model instanceof SocialModel;
}

export function friendVia(model: Recommender, user: number, item: number, users: IdMap, usable: (id: string) => boolean): ViaFriend | undefined {
  if (!namesFriends(model) || user < 0) return undefined;
  let best = -1;
  let bestPart = 0;
  let friends = 0;
  let total = 0;
  for (const s of model.explain(user, item)) {
    if (s.friend >= users.size || !usable(users.id(s.friend))) continue;
    friends++;
    total += s.contribution;
    if (best < 0 || s.contribution > bestPart) {
      best = s.friend;
      bestPart = s.contribution;
    }
  }
  if (best < 0 || !(total > 0)) return undefined;
  return { friend: users.id(best), friends, contribution: round4(total) };
}
