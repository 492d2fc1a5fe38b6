import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { verifyPassword } from '../lib/credentials.ts';
import { ConfigError, readConfigFile } from '../protocol/config.ts';
import type { Device, FleetIndex } from '../protocol/fleet.ts';
import { describeZodError } from '../protocol/reasons.ts';
import { TOPIC_ROOT } from '../protocol/topics.ts';
import { serviceAccountSchema } from './config.ts';

/**
 * mosquitto 2's password_file entry (`$7$`): PBKDF2-HMAC-SHA512, 12-byte salt, 64-byte key, 101 rounds, the
 * values `mosquitto_passwd` writes (it is the format mosquitto 2.0 reads; `$6$` is plain salted SHA-512).
 */
export const MOSQUITTO_PBKDF2 = { iterations: 101, saltBytes: 12, keyBytes: 64 } as const;

export function mosquittoHash(
  password: string,
  salt: Buffer = randomBytes(MOSQUITTO_PBKDF2.saltBytes),
): string {
  const key = pbkdf2Sync(password, salt, MOSQUITTO_PBKDF2.iterations, MOSQUITTO_PBKDF2.keyBytes, 'sha512');
  return `$7$${MOSQUITTO_PBKDF2.iterations}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** An account as the operator hands it to the export: the broker's account fields with the clear password. */
export const exportAccountSchema = z
  .object({
    username: serviceAccountSchema.shape.username,
    password: z.string().min(1),
    role: serviceAccountSchema.shape.role,
    center: serviceAccountSchema.shape.center,
  })
  .refine((a) => a.role !== 'caregiver' || a.center !== undefined, {
    message: 'a caregiver account needs a center',
    path: ['center'],
  });
export type ExportAccount = z.infer<typeof exportAccountSchema>;

const accountsFileSchema = z.strictObject({ accounts: z.array(exportAccountSchema) });

/** `accounts: [{ username, password, role, center? }]` (YAML or JSON). */
export function readExportAccounts(file: string): ExportAccount[] {
  const parsed = accountsFileSchema.safeParse(readConfigFile(file));
  if (!parsed.success)
    throw new ConfigError(`accounts ${file} are invalid: ${describeZodError(parsed.error)}`);
  return parsed.data.accounts;
}

/** Why a registry entry is not in the export; the CLI prints each on stderr. */
export interface LeftOut {
  username: string;
  reason: 'no-password' | 'password-mismatch' | 'no-hash';
}

export interface MosquittoExport {
  passwordFile: string;
  aclFile: string;
  /** Usernames written to both files. */
  included: string[];
  leftOut: LeftOut[];
}

const R = TOPIC_ROOT;

/**
 * The registry ACL (broker/acl.ts) as mosquitto topic lines, one `user` section per login. No `pattern`
 * lines: a pattern applies to every login, services included, and cannot bind a device to its centre.
 * Service read rights name the layout's sections instead of "all but dead letters": mosquitto's `deny`
 * would also take ingest's right to write dead letters, and dead-letter topics (5 levels) match none of these.
 */
function deviceTopics(device: Device): string[] {
  const c = device.center;
  if (device.kind === 'gateway')
    return [
      `write ${R}/${c}/gateways/${device.id}/telemetry`,
      `write ${R}/${c}/gateways/${device.id}/status`,
    ];
  const channel = device.kind === 'alarm' ? 'alarm' : 'telemetry';
  return [`write ${R}/${c}/devices/${device.id}/${channel}`, `write ${R}/${c}/devices/${device.id}/status`];
}

const PIPELINE_READ = [
  `read ${R}/+/devices/+/+`,
  `read ${R}/+/gateways/+/+`,
  `read ${R}/+/rooms/+/nap`,
  `read ${R}/+/alerts/+`,
  `read ${R}/+/alerts/+/+`,
];

function staffTopics(center: string): string[] {
  return [
    `read ${R}/${center}/alerts/+`,
    `readwrite ${R}/${center}/alerts/+/ack`,
    `readwrite ${R}/${center}/rooms/+/nap`,
  ];
}

function accountTopics(account: ExportAccount): string[] {
  switch (account.role) {
    case 'ingest':
      return [...PIPELINE_READ, `write ${R}/deadletter/+/+`];
    case 'rules':
      return [...PIPELINE_READ, `write ${R}/+/alerts/#`, `write ${R}/+/rooms/+/nap`];
    case 'caregiver':
      return staffTopics(account.center!);
    case 'supervisor':
      return staffTopics('+');
    case 'simulator':
      return [`write ${R}/+/devices/+/+`, `write ${R}/+/gateways/+/+`, `write ${R}/+/rooms/+/nap`];
  }
}

/**
 * Builds both files. A device is exported only with a clear password that matches its registry hash, so the
 * export never lets in a password the registry would refuse; BLE wearables (no hash, no login) are skipped
 * silently, as they cannot log in to our broker either.
 */
export async function buildMosquittoExport(
  fleet: FleetIndex,
  credentials: Record<string, string>,
  accounts: ExportAccount[],
): Promise<MosquittoExport> {
  const leftOut: LeftOut[] = [];
  const entries: { username: string; password: string; topics: string[] }[] = [];
  const checks = fleet.fleet.devices.map(async (device) => {
    const password = credentials[device.id];
    if (device.passwordHash === undefined) {
      if (password !== undefined) leftOut.push({ username: device.id, reason: 'no-hash' });
      return null;
    }
    if (password === undefined) {
      leftOut.push({ username: device.id, reason: 'no-password' });
      return null;
    }
    if (!(await verifyPassword(password, device.passwordHash))) {
      leftOut.push({ username: device.id, reason: 'password-mismatch' });
      return null;
    }
    return { username: device.id, password, topics: deviceTopics(device) };
  });
  for (const entry of await Promise.all(checks)) if (entry) entries.push(entry);
  const names = new Set<string>();
  for (const account of accounts) {
    // mosquitto would take one of two same-named entries silently; which one is nobody's decision.
    if (fleet.devices.has(account.username) || names.has(account.username))
      throw new ConfigError(
        `account ${account.username} is named twice (accounts and registry share one namespace)`,
      );
    names.add(account.username);
    entries.push({ username: account.username, password: account.password, topics: accountTopics(account) });
  }
  const passwordFile = entries.map((e) => `${e.username}:${mosquittoHash(e.password)}\n`).join('');
  const aclFile = [
    '# Generated by `cradlewatch broker export --format mosquitto` from the fleet registry; edits are lost on the next export.',
    ...entries.map((e) => [``, `user ${e.username}`, ...e.topics.map((t) => `topic ${t}`)].join('\n')),
    '',
  ].join('\n');
  leftOut.sort((a, b) => a.username.localeCompare(b.username));
  return { passwordFile, aclFile, included: entries.map((e) => e.username), leftOut };
}

/**
 * Writes `password_file` and `acl_file` in `dir`. Owner-only: the hashes are crackable offline, so the
 * operator grants mosquitto's user read access (or runs it as the owner) deliberately.
 */
export function writeMosquittoExport(
  result: MosquittoExport,
  dir: string,
): { passwordFile: string; aclFile: string } {
  mkdirSync(dir, { recursive: true });
  const files = { passwordFile: join(dir, 'password_file'), aclFile: join(dir, 'acl_file') };
  writeFileSync(files.passwordFile, result.passwordFile, { mode: 0o600 });
  writeFileSync(files.aclFile, result.aclFile, { mode: 0o600 });
  // An existing file keeps its mode through writeFileSync; a re-export must not leave it wider.
  chmodSync(files.passwordFile, 0o600);
  chmodSync(files.aclFile, 0o600);
  return files;
}
