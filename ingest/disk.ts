import { ftruncateSync, writeSync } from 'node:fs';

/**
 * A local store (spool, dead letters) could not make data durable: a full disk (ENOSPC, EDQUOT), a file
 * system remounted read-only (EROFS), an I/O error (EIO) or its own byte budget. Ingest then holds the
 * acknowledgements of what it could not store, and tries again until the disk is back.
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
