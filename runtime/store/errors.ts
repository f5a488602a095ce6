/** Errors of the state stores. Each says what is wrong and what the user can do about it. */

/** An append or read on a log that was closed. */
export class LogClosedError extends Error {
  constructor(logName: string) {
    super(`The log ${logName} is closed`);
    this.name = 'LogClosedError';
  }
}

/** A record in the middle of a log file failed its checksum or did not parse. */
export class CorruptLogError extends Error {
  readonly file: string;
  /** 1-based line number of the bad record. */
  readonly line: number;
  /** Byte offset where the bad line starts. */
  readonly position: number;

  constructor(file: string, line: number, position: number, reason: string) {
    super(
      `Corrupt record in ${file} at line ${line} (byte ${position}): ${reason}. Valid records follow it, so this ` +
        'is not a torn write from a crash. Restore the file from a backup, or delete that line to keep the rest ' +
        '(the value it held is lost).',
    );
    this.name = 'CorruptLogError';
    this.file = file;
    this.line = line;
    this.position = position;
  }
}

/** Another live process holds the state directory's lock. */
export class StateDirLockedError extends Error {
  readonly dir: string;
  readonly pid: number;
  readonly hostname: string | undefined;

  constructor(dir: string, lockFile: string, pid: number, hostname: string | undefined, sameHost: boolean) {
    const where = sameHost ? `process ${pid}` : `process ${pid} on host ${hostname}`;
    super(
      `The state directory ${dir} is in use by another Tributary worker (${where}; lock file ${lockFile}). ` +
        'Stop that worker, or give this one another state directory. If no such worker is running, delete the lock file.',
    );
    this.name = 'StateDirLockedError';
    this.dir = dir;
    this.pid = pid;
    this.hostname = hostname;
  }
}
