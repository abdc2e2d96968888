/**
 * The data page (`#/data`): feedback export and import as JSONL, one POST /v1/feedback entry a
 * line ({"user","item","type","value","timestamp"}). Export downloads GET /v1/feedback/export (all
 * feedback, or one user's); import reads a file in the browser, checks every line, and sends it to
 * POST /v1/feedback in batches of 5,000 (the items must exist; the service names any it does not
 * know). Both need an admin key (export) or a write key (import).
 */
import { errorText, exportFeedback, api } from '../api.js';
import { byTestId, mount, toast, type Page } from '../dom.js';
import { html } from '../html.js';
import { batches, parseFeedbackJsonl } from '../ops.js';

export const IMPORT_BATCH = 5000;

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/x-ndjson' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function runExport(user: string | null): Promise<void> {
  const status = byTestId('export-status');
  status.dataset.state = 'loading';
  status.textContent = 'Exporting…';
  try {
    const text = await exportFeedback(user);
    const lines = text === '' ? 0 : text.trimEnd().split('\n').length;
    download(user ? `feedback-${user.replace(/[^A-Za-z0-9_.-]/g, '_')}.jsonl` : 'feedback.jsonl', text);
    status.textContent = `Exported ${lines} event${lines === 1 ? '' : 's'}${user ? ` of user ${user}` : ''}.`;
  } catch (err) {
    status.textContent = errorText(err);
  }
  status.dataset.state = 'ready';
}

async function runImport(file: File): Promise<void> {
  const status = byTestId('import-status');
  status.dataset.state = 'loading';
  const parsed = parseFeedbackJsonl(await file.text());
  if ('error' in parsed) {
    mount(status, html`<span class="error-text">${file.name}: ${parsed.error}</span>`);
    status.dataset.state = 'ready';
    return;
  }
  const parts = batches(parsed.events, IMPORT_BATCH);
  let accepted = 0;
  for (const [b, part] of parts.entries()) {
    status.textContent = `Sending batch ${b + 1} of ${parts.length}…`;
    try {
      accepted += (await api.postFeedback(part)).accepted;
    } catch (err) {
      // the message names the entry of this batch; say which line of the file that is
      const msg = errorText(err).replace(/body\.feedback\[(\d+)\]/, (_m, i: string) => `line ${b * IMPORT_BATCH + Number(i) + 1} (body.feedback[${i}])`);
      mount(status, html`<span class="error-text">Stopped at batch ${b + 1} of ${parts.length}: ${msg}.</span> ${accepted} events of earlier batches were recorded.`);
      status.dataset.state = 'ready';
      status.dataset.accepted = String(accepted);
      return;
    }
  }
  status.textContent = `Imported ${accepted} event${accepted === 1 ? '' : 's'} from ${file.name} in ${parts.length} batch${parts.length === 1 ? '' : 'es'}.`;
  status.dataset.accepted = String(accepted);
  status.dataset.state = 'ready';
  toast(`Imported ${accepted} events`);
}

export const dataPage: Page = {
  view: 'data',
  init() {
    byTestId('export-all').addEventListener('click', () => void runExport(null));
    byTestId<HTMLFormElement>('export-user-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const user = byTestId<HTMLInputElement>('export-user-input').value.trim();
      if (user) void runExport(user);
    });
    byTestId<HTMLFormElement>('import-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const file = byTestId<HTMLInputElement>('import-file').files?.[0];
      if (!file) {
        toast('Choose a JSONL file first', 'error');
        return;
      }
      void runImport(file);
    });
  },
  show() {
    document.title = 'Data · personae';
  },
};
