/** The package version, written into every result manifest and artifact. */
export const VERSION = '0.1.0';
