/**
 * "via <friend>" on a recommendation the `social` model brought through a friend (the `via` field
 * of an item, src/serve/social-via.ts). No DOM here: the module is unit tested under Node
 * (test/web.test.ts).
 */
import type { RecItem } from './api-types.js';
import { html, type Html } from './html.js';

/** The words: "via alice", "via alice and 2 other friends", or null without a friend. */
export function viaText(item: Pick<RecItem, 'via'>): string | null {
  const v = item.via;
  if (!v) return null;
  const others = v.friends - 1;
  return others > 0 ? `via ${v.friend} and ${others} other friend${others === 1 ? '' : 's'}` : `via ${v.friend}`;
}

/** The line under a recommendation: the friend's name links to their user page. */
export function viaLine(item: Pick<RecItem, 'via'>): Html | null {
  const v = item.via;
  if (!v) return null;
  const others = v.friends - 1;
  const rest = others > 0 ? ` and ${others} other friend${others === 1 ? '' : 's'}` : '';
  return html`<p class="reason via" data-testid="rec-via" data-friend="${v.friend}" title="${viaText(item)}: their consumption added ${v.contribution.toFixed(3)} to the score"><span>via <a href="#/users/${encodeURIComponent(v.friend)}"><strong>${v.friend}</strong></a>${rest}</span></p>`;
}
