import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const webDir = fileURLToPath(new URL('../web/', import.meta.url));

export interface PageAssets {
  html: string;
  js: string;
  css: string;
}

let cached: Promise<PageAssets> | undefined;

/**
 * The caregiver page: rules/web/*.ts bundled by esbuild in memory once per process, plus the HTML and CSS
 * as written. No build step, no CDN: everything the page loads comes from this server.
 */
export function pageAssets(): Promise<PageAssets> {
  cached ??= (async () => {
    const [bundle, html, css] = await Promise.all([
      build({
        entryPoints: [`${webDir}main.ts`],
        bundle: true,
        write: false,
        format: 'iife',
        target: 'es2020',
        minify: true,
        legalComments: 'none',
        logLevel: 'silent',
      }),
      readFile(`${webDir}index.html`, 'utf8'),
      readFile(`${webDir}style.css`, 'utf8'),
    ]);
    return { html, css, js: bundle.outputFiles[0]!.text };
  })();
  // A failed build is not cached: fixing the source and reloading should work without a restart.
  cached.catch(() => {
    cached = undefined;
  });
  return cached;
}
