import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readFleet } from '../lib/fleet-file.ts';
import { verifyPassword } from '../lib/credentials.ts';
import { readCredentials } from './config.ts';
import { testTempDir } from '../test/support/temp.ts';

const run = promisify(execFile);
const dir = testTempDir('cw-sim-cli-');
const BIN = join(import.meta.dirname, '..', 'bin', 'cradlewatch.mjs');

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', [BIN, ...args], {
      env: { ...process.env, CW_LOG_FORMAT: 'json' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('cradlewatch sim', () => {
  it('fleet writes a valid registry and a private credentials file', async () => {
    const out = join(dir, 'fleet.yaml');
    const result = await cli(
      'sim',
      'fleet',
      '--centers',
      '1',
      '--rooms-per-center',
      '2',
      '--infants-per-room',
      '2',
      '--gateways',
      '--seed',
      '3',
      '--hash-cost',
      '1024',
      '--out',
      out,
    );
    expect(result.code).toBe(0);
    const fleet = readFleet(out);
    expect(fleet.devices.size).toBe(2 * (3 + 2));
    const credentials = readCredentials(join(dir, 'fleet.credentials.yaml'));
    expect(Object.keys(credentials).sort()).toEqual([
      'ab-c1-r1',
      'ab-c1-r2',
      'gw-c1-r1',
      'gw-c1-r2',
      'rs-c1-r1',
      'rs-c1-r2',
    ]);
    expect(await verifyPassword(credentials['rs-c1-r1']!, fleet.devices.get('rs-c1-r1')!.passwordHash!)).toBe(
      true,
    );
    expect(statSync(join(dir, 'fleet.credentials.yaml')).mode & 0o777).toBe(0o600);
  });

  it('fleet refuses a bad shape', async () => {
    const result = await cli('sim', 'fleet', '--centers', '0', '--out', join(dir, 'x.yaml'));
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/centers must be a whole number ≥ 1, got 0/);
  });

  it('run --dry-run records the same stream twice', async () => {
    const args = [
      'sim',
      'run',
      '--scenario',
      'alarm-press',
      '--dry-run',
      '--start-time',
      '2026-01-05T12:00:00Z',
    ];
    const a = await cli(...args, '--record', join(dir, 'a.jsonl'));
    const b = await cli(...args, '--record', join(dir, 'b.jsonl'));
    expect(a.code, a.stderr).toBe(0);
    expect(a.stdout).toMatch(/dry run: \d+ records over 299\.0 s simulated/);
    expect(readFileSync(join(dir, 'a.jsonl'), 'utf8')).toBe(readFileSync(join(dir, 'b.jsonl'), 'utf8'));
    expect(b.code).toBe(0);
  });

  it('refuses bad flags naming the field', async () => {
    const bad = [
      [['--speed', 'fast'], /speed \(--speed\): expected "max" or a number \(got "fast"\)/],
      [['--fault-malformed-json', '2'], /faults\.malformedJson \(--fault-malformed-json\): .*\(got 2\)/],
      [
        ['--start-time', 'yesterday'],
        /startTime \(--start-time\): expected an ISO date-time.*\(got "yesterday"\)/,
      ],
      [['--scenario', 'no-such'], /no scenario "no-such"/],
      [['--url', 'ws://x'], /url \(--url\): expected mqtt:\/\/host:port/],
      [['--duration', '10q'], /duration \(--duration\): bad duration/],
      [['--wearable-interval', '10ms'], /behaviour\.wearableIntervalMs: Too small/],
    ] as const;
    const results = await Promise.all(bad.map(([flags]) => cli('sim', 'run', '--dry-run', ...flags)));
    results.forEach((result, i) => {
      expect(result.code, bad[i]![0].join(' ')).toBe(2);
      expect(result.stderr).toMatch(bad[i]![1]);
    });
  });

  it('replay refuses a malformed recording naming the line', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"t":1,"op":"connect","client":"a"}\n{"t":2,"op":"teleport","client":"a"}\n');
    const result = await cli('sim', 'replay', file, '--url', 'mqtt://127.0.0.1:1');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/line 2: op/);
  });
});
