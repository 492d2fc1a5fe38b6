import { createHmac } from 'node:crypto';
import type { WebhookConfig } from './webhook-config.ts';

/** The target refused the request for good (a 4xx, or a robot errcode after `maxAttempts`). */
export class PermanentError extends Error {}
/** A robot answered with an errcode that is neither success nor "busy": retried up to `maxAttempts`. */
export class RefusedError extends Error {}
/** The robot said it is busy or over its limit. Like network errors, timeouts and 5xx: retried without limit. */
export class BusyError extends Error {}

/**
 * Robot errcodes that mean "later": WeCom -1 (system busy) and 45009 (over the frequency limit), DingTalk
 * 130101 (sending too fast) and -1.
 */
const BUSY_ERRCODES = new Set([-1, 45009, 130101]);

/** DingTalk signing: HMAC-SHA256 of "timestamp\nsecret", base64, in the query string. */
function signedUrl(config: WebhookConfig, now = Date.now()): string {
  if (config.format !== 'dingtalk' || !config.secret) return config.url;
  const sign = createHmac('sha256', config.secret).update(`${now}\n${config.secret}`).digest('base64');
  const url = new URL(config.url);
  url.searchParams.set('timestamp', String(now));
  url.searchParams.set('sign', sign);
  return url.toString();
}

/**
 * One POST of `body`. Throws what the answer means for a retry: `BusyError` (429, robot busy or over its
 * limit), `RefusedError` (another robot errcode), `PermanentError` (another 4xx), a plain Error (network,
 * timeout, 5xx, an answer that is not JSON).
 */
export async function postWebhook(config: WebhookConfig, body: string, abort: AbortSignal): Promise<void> {
  const timeout = AbortSignal.timeout(config.timeoutMs);
  const response = await fetch(signedUrl(config), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...config.headers },
    body,
    signal: AbortSignal.any([timeout, abort]),
  });
  const text = await response.text();
  if (response.status === 429) throw new BusyError(`HTTP 429: ${text.slice(0, 200)}`);
  if (response.status >= 500) throw new Error(`HTTP ${response.status}`);
  if (!response.ok) throw new PermanentError(`HTTP ${response.status}: ${text.slice(0, 200)}`);
  if (config.format !== 'json') {
    // Both robots answer 200 with {errcode, errmsg}; a non-zero errcode (rate limit, bad key) is a failure.
    let errcode: unknown;
    try {
      errcode = (JSON.parse(text) as { errcode?: unknown }).errcode;
    } catch {
      throw new Error(`robot answered with non-JSON: ${text.slice(0, 200)}`);
    }
    if (typeof errcode === 'number' && BUSY_ERRCODES.has(errcode))
      throw new BusyError(`robot errcode ${errcode}: ${text.slice(0, 200)}`);
    if (errcode !== 0) throw new RefusedError(`robot errcode ${String(errcode)}: ${text.slice(0, 200)}`);
  }
}
