/**
 * Items posted after the served model was trained ("new items"): scored at once, without a
 * retrain, from the items they resemble, so that they can be recommended before the next training.
 *
 * A new item's peers are model items (candidates still in the catalogue):
 * - with categories: the items sharing the most of its categories, the most popular first
 *   (at most PEERS);
 * - else, once users gave it a positive: the items those users liked most often (co-liked);
 * - else none: the item is only in the non-personalised lists (/v1/latest) until a retrain.
 *
 * Its score for a user is the mean of the user's scores of its peers, whatever the model. For a
 * model that scores an item by a dot product with the item's vector plus a bias (matrix
 * factorisation, or a persona's target vector and bias), this is exactly the score of the mean
 * vector and mean bias of the peers: the new item gets the mean of its peers' vectors. Models
 * without item vectors (EASE, item kNN) get the mean of the peers' scores, the same rule in score
 * space. Lists are then the plain top-n over the model's items and the new items together.
 */
import type { IdMap } from '../data/ids.js';
import type { LiveData } from './live.js';
import { positiveCounts } from './lists.js';

/** Peers per new item. */
export const PEERS = 20;
/** New items considered at most (the newest first): bounds the work a request adds. */
export const MAX_NEW_ITEMS = 2000;
/** Feedback peers (one pass over the positives) are rebuilt at most this often when only feedback changed. */
export const FEEDBACK_PEERS_EVERY_MS = 1000;

export interface NewItem {
  id: string;
  title: string;
  categories: string[];
  /** Model item indices it is scored from. */
  peers: Int32Array;
  /** Why it is in a list (shown with explain=true). */
  reason: string;
}

/** What the scorer needs of a served model: its item ids, which items it ranks, their popularity. */
export interface ModelItems {
  readonly items: IdMap;
  readonly nItems: number;
  readonly popularity: Int32Array;
  isCandidate(i: number): boolean;
}

export class NewItems {
  private key = '';
  private list: NewItem[] = [];
  /** Changes whenever the new items or their peers change (answer caches key on it). */
  generation = 0;

  constructor(private readonly model: ModelItems) {}

  /** The live items the model does not know, with their peers (rebuilt when items or, for feedback peers, feedback changed). */
  current(live: LiveData): NewItem[] {
    // feedback peers depend on the feedback: only then is the feedback part of the key
    const key = (): string => `${live.itemsVersion}${this.usesFeedback ? `|${live.maxSeq}|${live.feedbackCount}|${live.erasureGen}|${live.cache?.countsVersion ?? 0}` : ''}`;
    if (this.key !== '' && this.key === key()) return this.list;
    // only feedback changed: the co-liked peers follow within FEEDBACK_PEERS_EVERY_MS (no pass per write)
    if (this.key !== '' && this.itemsVersion === live.itemsVersion && Date.now() - this.builtAt < FEEDBACK_PEERS_EVERY_MS) return this.list;
    this.itemsVersion = live.itemsVersion;
    this.builtAt = Date.now();
    const before = this.signature;
    this.list = this.build(live);
    this.key = key();
    if (this.signature !== before) this.generation++;
    return this.list;
  }

  private usesFeedback = false;
  private itemsVersion = -1;
  private builtAt = 0;
  private signature = '';

  private build(live: LiveData): NewItem[] {
    const m = this.model;
    const fresh: { id: string; title: string; categories: string[] }[] = [];
    const all = [...live.items.values()];
    for (let r = all.length - 1; r >= 0 && fresh.length < MAX_NEW_ITEMS; r--) {
      const it = all[r]!;
      if (m.items.lookup(it.id) < 0) fresh.push({ id: it.id, title: it.title || it.id, categories: it.categories });
    }
    this.usesFeedback = false;
    if (fresh.length === 0) {
      this.signature = '';
      return [];
    }
    // model candidates still in the catalogue, by category, the most popular first
    const byCategory = new Map<string, number[]>();
    for (let i = 0; i < m.nItems; i++) {
      if (!m.isCandidate(i)) continue;
      const rec = live.items.get(m.items.id(i));
      if (!rec) continue;
      for (const c of rec.categories) {
        let a = byCategory.get(c);
        if (!a) byCategory.set(c, (a = []));
        a.push(i);
      }
    }
    const pop = m.popularity;
    const out: NewItem[] = [];
    const needFeedback: { id: string; title: string; categories: string[] }[] = [];
    const overlap = new Map<number, number>();
    for (const f of fresh) {
      overlap.clear();
      for (const c of new Set(f.categories)) for (const i of byCategory.get(c) ?? []) overlap.set(i, (overlap.get(i) ?? 0) + 1);
      if (overlap.size === 0) {
        needFeedback.push(f);
        continue;
      }
      const peers = [...overlap.keys()].sort((a, b) => overlap.get(b)! - overlap.get(a)! || pop[b]! - pop[a]! || a - b).slice(0, PEERS);
      const shared = [...new Set(f.categories)].filter((c) => byCategory.has(c));
      out.push({ ...f, peers: Int32Array.from(peers), reason: `new since the model was trained: scored like the items of ${shared.join(' / ')}` });
    }
    if (needFeedback.length > 0) {
      this.usesFeedback = true;
      const counts = positiveCounts(live);
      const wanted = new Map<string, Map<number, number>>();
      for (const f of needFeedback) if ((counts.get(f.id) ?? 0) > 0) wanted.set(f.id, new Map());
      if (wanted.size > 0) {
        // with the user cache: the likers' positives read from the store for this request (co-liked.ts)
        for (const u of live.cache ? live.cache.coLiked : live.users.values()) {
          const liked = u.positives.filter((p) => wanted.has(p.item));
          if (liked.length === 0) continue;
          const mine = new Set<number>();
          for (const p of u.positives) {
            const i = m.items.lookup(p.item);
            if (i >= 0 && m.isCandidate(i) && live.items.has(p.item)) mine.add(i);
          }
          for (const id of new Set(liked.map((p) => p.item))) {
            const c = wanted.get(id)!;
            for (const i of mine) c.set(i, (c.get(i) ?? 0) + 1);
          }
        }
        for (const f of needFeedback) {
          const c = wanted.get(f.id);
          if (!c || c.size === 0) continue;
          const peers = [...c.keys()].sort((a, b) => c.get(b)! - c.get(a)! || pop[b]! - pop[a]! || a - b).slice(0, PEERS);
          const users = counts.get(f.id) ?? 0;
          out.push({ ...f, peers: Int32Array.from(peers), reason: `new since the model was trained: scored like the items its first ${users === 1 ? 'user' : `${users} users`} liked` });
        }
      }
    }
    this.signature = out.map((f) => `${f.id}:${f.peers.join(',')}`).join(';');
    return out;
  }

  /** `merge` of a selected list, with its hedged fillers by item (new items shift the positions). */
  mergeSelected(
    live: LiveData,
    selected: { list: Int32Array; fillers?: (string | null)[] },
    scores: Float32Array,
    want: number,
    allowed: (f: NewItem) => boolean,
  ): { entries: (number | NewItem)[]; newScores: Map<NewItem, number>; fillerOf: Map<number, string> } {
    const fillerOf = new Map<number, string>();
    selected.fillers?.forEach((f, r) => {
      if (f) fillerOf.set(selected.list[r]!, f);
    });
    return { ...this.merge(live, selected.list, scores, want, allowed), fillerOf };
  }

  /**
   * Merges the new items into a list (model indices, the top `want`): each new item that `allowed`
   * accepts scores the mean of `scores` over its peers and goes before the first list item it
   * outscores (ties: model items first); the first `want` are kept. On a list in score order this
   * is the top `want` of both; on a hedged list (not in score order) a new item takes the place of
   * the first item it beats. New items come back as NewItem entries.
   */
  merge(live: LiveData, list: Int32Array, scores: Float32Array, want: number, allowed: (f: NewItem) => boolean): { entries: (number | NewItem)[]; newScores: Map<NewItem, number> } {
    const fresh = this.current(live);
    const newScores = new Map<NewItem, number>();
    if (fresh.length === 0) return { entries: Array.from(list), newScores };
    const scored: { f: NewItem; s: number }[] = [];
    for (const f of fresh) {
      if (!allowed(f)) continue;
      let sum = 0;
      let n = 0;
      for (const i of f.peers) {
        const s = scores[i]!;
        if (Number.isFinite(s)) {
          sum += s;
          n++;
        }
      }
      if (n === 0) continue;
      scored.push({ f, s: sum / n });
    }
    if (scored.length === 0) return { entries: Array.from(list), newScores };
    // the newest first among equal scores (fresh is newest first; sort is stable)
    scored.sort((a, b) => b.s - a.s);
    const entries: (number | NewItem)[] = [];
    let a = 0;
    let b = 0;
    while (entries.length < want && (a < list.length || b < scored.length)) {
      const sa = a < list.length ? scores[list[a]!]! : -Infinity;
      if (b < scored.length && (a >= list.length || scored[b]!.s > sa)) {
        entries.push(scored[b]!.f);
        newScores.set(scored[b]!.f, scored[b]!.s);
        b++;
      } else entries.push(list[a++]!);
    }
    return { entries, newScores };
  }
}

/** A new item in an answer: its peer score, rank and match, and with explain=true why it is there. */
export function newItemJson(
  f: NewItem,
  score: number,
  rank: number,
  match: (s: number) => number,
  explain: boolean,
): { id: string; title: string; score: number; categories: string[]; rank: number; match: number; newItem: true; explanation?: null; reason?: string } {
  const item = { id: f.id, title: f.title, score: Math.round(score * 1e6) / 1e6, categories: f.categories, rank, match: match(score), newItem: true as const };
  return explain ? { ...item, explanation: null, reason: f.reason } : item;
}
