import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '../../lib/net.ts';
import { finished } from './run-module.ts';

export interface RunningMosquitto {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A password_file and acl_file (as `broker export --format mosquitto` writes them) to start with. */
export interface MosquittoAuth {
  passwordFile: string;
  aclFile: string;
}

/**
 * Started as root, mosquitto drops to its `mosquitto` user before it reads password and ACL files, so it
 * gets copies it owns in its own directory.
 */
function authLines(dir: string, auth: MosquittoAuth): string[] {
  const copies = { passwordFile: join(dir, 'password_file'), aclFile: join(dir, 'acl_file') };
  copyFileSync(auth.passwordFile, copies.passwordFile);
  copyFileSync(auth.aclFile, copies.aclFile);
  if (process.getuid?.() === 0) {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'mosquitto'], { encoding: 'utf8' }));
    const [uid, gid] = [id('-u'), id('-g')];
    for (const path of [dir, copies.passwordFile, copies.aclFile]) chownSync(path, uid, gid);
  }
  return ['allow_anonymous false', `password_file ${copies.passwordFile}`, `acl_file ${copies.aclFile}`];
}

/**
 * Debian's mosquitto on a free loopback port with a generated config: anonymous clients on 127.0.0.1 (or,
 * given `auth`, only the logins and ACL of those files), no persistence file. `unlimited` (the default) lifts
 * the in-flight and queue limits so a persistent session keeps every QoS 1 message while ingest is down;
 * `stock` keeps mosquitto's defaults (20 in flight).
 */
export async function startMosquitto(
  limits: 'unlimited' | 'stock' = 'unlimited',
  auth?: MosquittoAuth,
): Promise<RunningMosquitto> {
  const binary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((b) => existsSync(b)) ?? 'mosquitto';
  const dir = mkdtempSync(join(tmpdir(), 'cw-mosquitto-'));
  const port = await freePort();
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(
    config,
    [
      `listener ${port} 127.0.0.1`,
      ...(auth ? authLines(dir, auth) : ['allow_anonymous true']),
      'persistence false',
      ...(limits === 'unlimited' ? ['max_inflight_messages 0', 'max_queued_messages 0'] : []),
      'log_dest none',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(binary, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited: ${stderr}`);
      return reachable(port);
    },
    { what: `mosquitto on ${port}` },
  );
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child.exitCode === null) {
        const gone = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Debian's mosquitto clients against our broker: exit code and output, never a throw. */
export async function mosquitto(command: 'mosquitto_pub' | 'mosquitto_sub', args: string[], input?: Buffer) {
  const child = execFile(command, args, { timeout: 15_000, encoding: 'utf8' });
  if (input) child.stdin?.end(input);
  else child.stdin?.end();
  const { code, stdout, stderr } = await finished(child);
  return { code, stdout, stderr };
}

export function hostPort(url: string): string[] {
  const { hostname, port } = new URL(url);
  return ['-h', hostname, '-p', port, '-V', 'mqttv311'];
}
