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
