/**
 * MovieLens readers:
 *  - ml-latest / ml-latest-small / ml-20m / ml-25m: ratings.csv (userId,movieId,rating,timestamp)
 *    and movies.csv (movieId,title,genres with '|');
 *  - ml-100k: u.data (tab: user item rating timestamp), u.item ('|', 5 fields then one 0/1 flag
 *    per genre), u.genre (name|index);
 *  - ml-1m (and ml-10m): ratings.dat (UserID::MovieID::Rating::Timestamp) and movies.dat
 *    (MovieID::Title::Genres).
 * Ratings are read first, so rated items get the first item indices; items that only appear in
 * the movie file are added after them. Movie files are optional: without one there are no
 * categories or titles. The encoding of u.item / movies.dat is detected (UTF-8 when the file is
 * valid UTF-8, else Latin-1, which is what ml-100k and ml-1m use).
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogBuilder } from '../dataset.js';
import { DataError } from '../../errors.js';
import { detectEncoding } from './csv-parse.js';
import { own, readInteractionTable, readTable, requireColumn, splitCategories, type ReadContext } from './generic.js';

/** The files each MovieLens layout reads; the first one is required. */
export const MOVIELENS_FILES = {
  movielens: ['ratings.csv', 'movies.csv'],
  'ml-100k': ['u.data', 'u.item', 'u.genre'],
  'ml-1m': ['ratings.dat', 'movies.dat'],
} as const;

/** The 19 genres of ml-100k in flag order, used when u.genre is missing. */
export const ML100K_GENRES: readonly string[] = [
  'unknown',
  'Action',
  'Adventure',
  'Animation',
  "Children's",
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
];

async function exists(file: string): Promise<boolean> {
  try {
    await access(file);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// ml-latest (ratings.csv + movies.csv)
// ---------------------------------------------------------------------------------------------

/** Reads an ml-latest style folder (ratings.csv, optional movies.csv) into `builder`. */
export async function readMovieLens(builder: LogBuilder, dir: string, ctx: ReadContext): Promise<void> {
  await readInteractionTable(builder, join(dir, 'ratings.csv'), ctx, {
    delimiter: ',',
    quotes: true,
    columns: { user: 'userId', item: 'movieId', rating: 'rating', timestamp: 'timestamp' },
  });
  const movies = join(dir, 'movies.csv');
  if (await exists(movies)) await readMoviesCsv(builder, movies, ctx);
}

/** movies.csv: movieId,title,genres (quoted titles, genres joined with '|'). */
export async function readMoviesCsv(builder: LogBuilder, file: string, ctx: ReadContext): Promise<void> {
  let ii = 0;
  let ti = 1;
  let gi = 2;
  await readTable(
    file,
    ctx,
    builder,
    { delimiter: ',', quotes: true },
    (header, line) => {
      ii = requireColumn(header, ['movieId'], 'movieId', file, line);
      ti = requireColumn(header, ['title'], 'title', file, line);
      gi = requireColumn(header, ['genres'], 'genres', file, line);
    },
    (f, _line, bad) => addMovie(builder, f[ii]!, f[ti]!, splitCategories(f[gi]!), bad, 'movieId'),
  );
}

/** One movie row: categories and (when not blank) title of the movie `id`; an empty id is a bad row. */
function addMovie(
  builder: LogBuilder,
  id: string,
  title: string,
  genres: readonly string[],
  bad: (message: string, field?: string) => void,
  idField: string,
): boolean {
  if (id.length === 0) {
    bad('empty movie id', idField);
    return false;
  }
  const item = own(id);
  builder.setCategories(item, genres);
  const t = title.trim();
  if (t.length > 0) builder.setTitle(item, own(t));
  return true;
}

// ---------------------------------------------------------------------------------------------
// ml-100k (u.data + u.item + u.genre)
// ---------------------------------------------------------------------------------------------

/** Reads an ml-100k folder (u.data; optional u.item and u.genre) into `builder`. */
export async function readMl100k(builder: LogBuilder, dir: string, ctx: ReadContext): Promise<void> {
  await readInteractionTable(builder, join(dir, 'u.data'), ctx, {
    delimiter: '\t',
    quotes: false,
    fixed: { names: ['user id', 'item id', 'rating', 'timestamp'], user: 0, item: 1, rating: 2, timestamp: 3 },
  });
  const items = join(dir, 'u.item');
  if (!(await exists(items))) return;
  const genreFile = join(dir, 'u.genre');
  const genres = (await exists(genreFile)) ? await readGenreList(builder, genreFile, ctx) : ML100K_GENRES;
  await readUItem(builder, items, genres, ctx);
}

/** u.genre: `name|index` lines; returns the names by index (indices must be 0..n-1). */
export async function readGenreList(builder: LogBuilder, file: string, ctx: ReadContext): Promise<string[]> {
  const names: string[] = [];
  const lines: number[] = [];
  await readTable(
    file,
    ctx,
    builder,
    { delimiter: '|', quotes: false, encoding: await detectEncoding(file), fixedColumns: ['genre', 'index'] },
    null,
    (f, line, bad) => {
      const index = Number(f[1]);
      if (!/^\d+$/.test(f[1]!) || index > 1000) {
        bad(`genre index ${JSON.stringify(f[1])} is not a small non-negative integer`, 'index');
        return false;
      }
      if (names[index] !== undefined) {
        bad(`genre index ${index} appears twice (first on line ${lines[index]})`, 'index');
        return false;
      }
      names[index] = own(f[0]!.trim());
      lines[index] = line;
      return true;
    },
  );
  for (let i = 0; i < names.length; i++) {
    if (names[i] === undefined) throw new DataError(`genre index ${i} is missing (indices must run 0..${names.length - 1})`, { file });
  }
  return names;
}

/** u.item: id|title|release date|video release date|IMDb URL|one 0/1 flag per genre. */
export async function readUItem(builder: LogBuilder, file: string, genres: readonly string[], ctx: ReadContext): Promise<void> {
  const fixedColumns = ['movie id', 'movie title', 'release date', 'video release date', 'IMDb URL', ...genres];
  const cats: string[] = [];
  await readTable(
    file,
    ctx,
    builder,
    { delimiter: '|', quotes: false, encoding: await detectEncoding(file), fixedColumns },
    null,
    (f, _line, bad) => {
      cats.length = 0;
      for (let g = 0; g < genres.length; g++) {
        const flag = f[5 + g]!;
        if (flag === '1') cats.push(genres[g]!);
        else if (flag !== '0') {
          bad(`genre flag ${JSON.stringify(flag)} is not 0 or 1`, genres[g]);
          return false;
        }
      }
      return addMovie(builder, f[0]!, f[1]!, cats, bad, 'movie id');
    },
  );
}

// ---------------------------------------------------------------------------------------------
// ml-1m / ml-10m (ratings.dat + movies.dat)
// ---------------------------------------------------------------------------------------------

/** Reads an ml-1m style folder (ratings.dat; optional movies.dat) into `builder`. */
export async function readMl1m(builder: LogBuilder, dir: string, ctx: ReadContext): Promise<void> {
  await readInteractionTable(builder, join(dir, 'ratings.dat'), ctx, {
    delimiter: '::',
    quotes: false,
    fixed: { names: ['UserID', 'MovieID', 'Rating', 'Timestamp'], user: 0, item: 1, rating: 2, timestamp: 3 },
  });
  const movies = join(dir, 'movies.dat');
  if (await exists(movies)) await readMoviesDat(builder, movies, ctx);
}

/** movies.dat: MovieID::Title::Genres (genres joined with '|'). */
export async function readMoviesDat(builder: LogBuilder, file: string, ctx: ReadContext): Promise<void> {
  await readTable(
    file,
    ctx,
    builder,
    { delimiter: '::', quotes: false, encoding: await detectEncoding(file), fixedColumns: ['MovieID', 'Title', 'Genres'] },
    null,
    (f, _line, bad) => addMovie(builder, f[0]!, f[1]!, splitCategories(f[2]!), bad, 'MovieID'),
  );
}
