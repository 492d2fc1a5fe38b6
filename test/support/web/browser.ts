import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

/**
 * Debian's Chromium, never a downloaded browser; flags keep it off the network and quiet on 2 cores. Its
 * temp files (the PulseAudio client's `pulse-*` runtime dir, for the alarm sound) go to a directory of its
 * own, removed when it closes: left in the run's temp dir, they failed the run.
 */
export async function launchChromium(): Promise<Browser> {
  const own = mkdtempSync(join(tmpdir(), 'cw-chromium-'));
  const browser = await chromium.launch({
    env: { ...process.env, TMPDIR: own, XDG_RUNTIME_DIR: own },
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
  browser.on('disconnected', () => rmSync(own, { recursive: true, force: true }));
  return browser;
}

export const ARTIFACTS = 'test-artifacts/caregiver-page';
/** The page during an alarm at 900×640; `npm run screenshot` copies it to docs/caregiver-page.png. */
export const README_SHOT = 'readme-alarm.png';

export function artifactPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return `${ARTIFACTS}/${name}`;
}
