/**
 * The small error taxonomy of personae. Every message names the place (file:line, field path or
 * argument) and the rule that was broken, so a user can fix the input without reading our code.
 */

/** Where a problem was found: a file with a 1-based line (and optionally a field), or a field path. */
export interface Place {
  file?: string;
  line?: number;
  field?: string;
}

export function formatPlace(place: Place): string {
  const parts: string[] = [];
  if (place.file !== undefined) parts.push(place.line !== undefined ? `${place.file}:${place.line}` : place.file);
  if (place.field !== undefined) parts.push(`field "${place.field}"`);
  return parts.join(' ');
}

/** Bad input data: a malformed row, a missing column, an empty file, an unknown layout. */
export class DataError extends Error {
  override readonly name = 'DataError';
  constructor(
    message: string,
    readonly place: Place = {},
  ) {
    const where = formatPlace(place);
    super(where ? `${where}: ${message}` : message);
  }
}

/** A bad option or configuration value. `field` is the flag or the config path. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
  }
}

/** A model could not be fitted (e.g. its parameters became NaN). */
export class ModelFitError extends Error {
  override readonly name = 'ModelFitError';
}

/** A user, item, model or job that does not exist. */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/** What the messages read of a schema (zod) issue. */
export interface SchemaIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  /** The unknown keys of an `unrecognized_keys` issue. */
  readonly keys?: readonly string[];
}

/** A field path under `where`: `.name` for keys, `[i]` for array positions (`body.items[2].id`); `where` may be ''. */
export function issuePath(where: string, path: readonly PropertyKey[]): string {
  const rest = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  return where === '' ? rest.replace(/^\./, '') : `${where}${rest}`;
}

/** One line per schema issue, `<field path>: <rule broken>`; unknown keys are named as such. */
export function issueMessages(issues: readonly SchemaIssue[], where: string): string[] {
  return issues.map((i) => {
    const at = issuePath(where, i.path);
    const rule = i.code === 'unrecognized_keys' && i.keys ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
    return at === '' ? rule : `${at}: ${rule}`;
  });
}
