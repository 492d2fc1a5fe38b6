import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Mounting a file system needs root; suites that do skip otherwise and say so in their name. */
export const isRoot = process.getuid?.() === 0;

/**
 * A small tmpfs of its own: a disk that really fills up (ENOSPC) and really turns read-only (EROFS) under
 * the code, with no pretend file system in between.
 */
export class SmallDisk {
  readonly dir: string;
  readonly #root: string;

  constructor(bytes: number) {
    this.#root = mkdtempSync(join(tmpdir(), 'cw-disk-'));
    this.dir = join(this.#root, 'mnt');
    execFileSync('mkdir', [this.dir]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', this.dir]);
  }

  get freeBytes(): number {
    const s = statfsSync(this.dir);
    return s.bavail * s.bsize;
  }

  /** Takes all but `leave` bytes with a filler file. */
  fill(leave: number): void {
    writeFileSync(join(this.dir, 'filler'), Buffer.alloc(Math.max(0, this.freeBytes - leave)));
  }

  /** The disk is back. */
  unfill(): void {
    rmSync(join(this.dir, 'filler'), { force: true });
  }

  readOnly(on: boolean): void {
    execFileSync('mount', ['-o', `remount,${on ? 'ro' : 'rw'}`, this.dir]);
  }

  remove(): void {
    try {
      execFileSync('umount', ['-l', this.dir]);
    } finally {
      rmSync(this.#root, { recursive: true, force: true });
    }
  }
}
