/**
 * Escaping templates: html`...${value}...` escapes every value unless it is itself an `Html`
 * (a nested html`...`). The dashboard builds markup only this way, so every string that comes
 * from data (titles, labels, ids, categories, model specs) reaches the DOM as text.
 * No DOM here: the module is unit tested under Node (test/web.test.ts).
 */

/** Markup that is already safe (the result of html`...`). */
export class Html {
  constructor(readonly s: string) {}
  toString(): string {
    return this.s;
  }
}

/** What a template hole accepts: null, undefined and false render nothing; arrays are joined. */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

/** Escapes text for element content and for quoted attribute values (`&<>"'` and the backtick). */
export function escapeText(v: unknown): string {
  return String(v).replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function renderValue(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.s;
  if (Array.isArray(v)) return (v as readonly HtmlValue[]).map(renderValue).join('');
  return escapeText(v);
}

export function html(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += renderValue(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}
