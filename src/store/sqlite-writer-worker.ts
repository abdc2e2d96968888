/**
 * Worker-thread entry of the SQLite feedback writer (sqlite-writer.ts): its own connection to the
 * store's file (WAL: the main thread keeps reading while this one writes), synchronous=FULL. Each
 * message is one group of feedback requests, committed in one IMMEDIATE transaction with every
 * request in its own savepoint (a failing request is rolled back alone); the reply is sent after
 * COMMIT has returned, i.e. once the group is on disk.
 */
import Database from 'better-sqlite3';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { FeedbackRecord } from './types.js';
import type { WriterError, WriterReply, WriterRequest } from './sqlite-writer.js';

const port = parentPort!;
/** `replies`: the port the main thread reads the replies from (sqlite-writer.ts `poll`). */
const { file, replies } = workerData as { file: string; replies: MessagePort };
const db = new Database(file);
db.pragma('synchronous = FULL');
db.pragma('busy_timeout = 5000');

const addUser = db.prepare("INSERT INTO users (id, attributes) VALUES (?, '{}') ON CONFLICT (id) DO NOTHING");
const addEvent = db.prepare('INSERT INTO feedback (user_id, item_id, type, value, ts) VALUES (?, ?, ?, ?, ?)');

function errorData(err: unknown): WriterError {
  const e = err as { message?: unknown; code?: unknown; name?: unknown };
  return {
    message: typeof e?.message === 'string' ? e.message : String(err),
    code: typeof e?.code === 'string' ? e.code : null,
    name: typeof e?.name === 'string' ? e.name : 'Error',
  };
}

/** One request (nested in the group's transaction, so better-sqlite3 runs it in a savepoint). */
const one = db.transaction((events: readonly FeedbackRecord[]): number[] => {
  const seqs: number[] = [];
  for (const e of events) {
    addUser.run(e.user);
    seqs.push(Number(addEvent.run(e.user, e.item, e.type, e.value, e.ts).lastInsertRowid));
  }
  return seqs;
});

const group = db.transaction((requests: readonly (readonly FeedbackRecord[])[]): WriterReply['outcomes'] =>
  requests.map((events) => {
    try {
      return { ok: true as const, value: one(events) };
    } catch (err) {
      return { ok: false as const, error: errorData(err) };
    }
  }),
);

port.on('message', (msg: WriterRequest) => {
  if (msg.close) {
    db.close();
    replies.close();
    port.close();
    return;
  }
  let reply: WriterReply;
  try {
    reply = { id: msg.id, outcomes: group.immediate(msg.requests), error: null };
  } catch (err) {
    // BEGIN or COMMIT failed (full disk, I/O error, busy): nothing of the group is stored
    reply = { id: msg.id, outcomes: [], error: errorData(err) };
  }
  replies.postMessage(reply);
});
