// The typed client (docs/service.md, "Typed client"); test/package.test.ts type-checks this file
// against the installed package.
import { createClient } from 'personae/client';

const api = createClient({ url: 'http://127.0.0.1:8080', apiKey: process.env.PERSONAE_KEY });
const r = await api.recommend('42', { n: 10, explain: true });
if (r.ok) for (const item of r.value.items) console.log(item.title, item.explanation?.label);
else if (r.error.kind === 'http') console.error(r.error.status, r.error.code, r.error.message);
else console.error(r.error.kind, r.error.message); // 'network' or 'invalid_response'
