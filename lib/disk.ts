import { closeSync, fsyncSync, ftruncateSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * A local store (ingest's spool and dead letters, the rules' journal and outboxes) could not make data
 * durable: a full disk (ENOSPC, EDQUOT), a file system remounted read-only (EROFS), an I/O error (EIO) or
 * its own byte budget. The store's owner keeps running and tries again until the disk is back.
 */
export class DiskFault extends Error {
  constructor(
    /** The file or directory that failed. */
    readonly path: string,
    /** The errno code (ENOSPC, EROFS, EIO, …) or `budget` when the store's own limit is reached. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DiskFault';
  }

  /** For /healthz and the log line: what failed, where, and what to do. */
  get reason(): string {
    const fix =
      this.code === 'ENOSPC' || this.code === 'EDQUOT'
        ? 'free space on that disk'
        : this.code === 'EROFS'
          ? 'remount it read-write'
          : this.code === 'budget'
            ? 'wait for InfluxDB, or raise the budget'
            : 'check the disk';
    return `${this.message} at ${this.path} (${this.code}): ${fix}`;
  }
}

/** Wraps a file-system error as a DiskFault naming the path; other errors pass through unchanged. */
export function diskFault(error: unknown, path: string, what: string): DiskFault {
  if (error instanceof DiskFault) return error;
  const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
  return new DiskFault(path, code, `${what} failed: ${(error as Error).message}`, { cause: error });
}

/**
 * Writes the whole buffer at the end of the file, or nothing: a write to a full disk can stop part way
 * (writeSync then returns fewer bytes without an error), and a torn record would hide every record after
 * it. On failure the file is cut back to `goodLength` where the disk allows.
 */
export function appendAll(fd: number, data: Uint8Array, goodLength: number): void {
  let at = 0;
  try {
    while (at < data.length) at += writeSync(fd, data, at, data.length - at);
  } catch (error) {
    try {
      ftruncateSync(fd, goodLength);
    } catch {
      // A read-only or failing disk refuses this too; readers stop at a torn tail, and the store
      // starts a new file for the next append.
    }
    throw error;
  }
}

/** Closes a descriptor of a disk that may be failing: a close that reports the failure again still releases it. */
export function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // EIO on close: the descriptor is gone either way.
  }
}

/**
 * Replaces `path` with `data` or leaves it as it was: written to `path.tmp`, fsync'd, renamed over it, and
 * the directory fsync'd so the rename survives a power cut. A copy half-written to a full disk is removed:
 * it would hold space the disk has too little of.
 */
export function replaceFile(path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      appendAll(fd, data, 0);
      fsyncSync(fd);
    } finally {
      closeQuietly(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeQuietly(dir);
  }
}
