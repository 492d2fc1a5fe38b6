import type { BrowserContext, Page } from 'playwright-core';

/** The Content-Security-Policy the rules service sends with the caregiver page. */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "media-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

type Recorder = { __cspViolations: string[] };

/**
 * Serves the page of `origin` under PAGE_CSP whatever the server sends (a second identical policy changes
 * nothing), and records every `securitypolicyviolation` the page raises.
 */
export async function enforcePageCsp(context: BrowserContext, origin: string): Promise<void> {
  await context.route(
    (url) => url.origin === new URL(origin).origin && url.pathname === '/',
    async (route) => {
      const response = await route.fetch();
      await route.fulfill({
        response,
        headers: { ...response.headers(), 'content-security-policy': PAGE_CSP },
      });
    },
  );
  await context.addInitScript(() => {
    const recorder = window as unknown as Recorder;
    recorder.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      recorder.__cspViolations.push(
        `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`,
      );
    });
  });
}

export function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as Recorder).__cspViolations ?? ['no recorder']);
}
