import { buildApp } from './app.ts';
import type { HttpDeps } from './deps.ts';
import type { HttpConfig } from './config.ts';
import { pageAssets } from './assets.ts';

export { buildApp } from './app.ts';
export type { HttpDeps } from './deps.ts';
export { alertOrder } from './routes/alerts.ts';
export { httpConfigSchema, httpSettings, type HttpConfig, tokenSchema, type TokenConfig } from './config.ts';

export interface RunningHttp {
  url: string;
  close(): Promise<void>;
}

/** Builds the page bundle first, so a broken page source fails the start instead of the first visitor. */
export async function startHttp(config: HttpConfig, deps: HttpDeps): Promise<RunningHttp> {
  await pageAssets();
  const { app } = await buildApp(config, deps);
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  deps.log.info({ url }, 'caregiver page and alert API listening');
  return { url, close: () => app.close() };
}
