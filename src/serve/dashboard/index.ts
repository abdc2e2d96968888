/**
 * The dashboard (P13), served by the API process at `/`. Placeholder until the dashboard lands:
 * the service registers it so the two can be built side by side.
 */
import type { FastifyInstance } from 'fastify';

export async function registerDashboard(app: FastifyInstance): Promise<void> {
  app.get('/', async (_req, reply) => {
    reply.type('text/html; charset=utf-8');
    return '<!doctype html><title>personae</title><p>personae: the dashboard is not built yet; the API is under <a href="/openapi.json">/openapi.json</a>.</p>';
  });
}
