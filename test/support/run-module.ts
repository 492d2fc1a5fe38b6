import { type ChildProcess, spawn } from 'node:child_process';

/**
 * Runs an ES module snippet in a fresh Node process with tsx loaded, so a test can import project modules
 * there and watch what only a whole process shows: its stdout, its exit code, its handling of signals.
 */
export function spawnModule(code: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
}

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Collects a child's output until it exits. */
export function finished(child: ChildProcess): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  return new Promise((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
}

/** Resolves once the child has printed `marker` on stdout. */
export function printed(child: ChildProcess, marker: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`no "${marker}" after ${timeoutMs} ms: ${seen}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (d) => {
      seen += d;
      if (seen.includes(marker)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}
