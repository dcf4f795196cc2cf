// Docker's JSON message streams (import, load): one object per line; `stream` text is printed as
// is, `status` as a line, an `error` ends the command with the daemon's message. And where a
// streamed archive goes (save, export, cp -): a file or the binary stdout.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ApiError } from '../../api.js';

interface JsonMessage {
  stream?: string;
  status?: string;
  id?: string;
  error?: string;
  errorDetail?: { message?: string };
}

export async function printMessages(res: AsyncIterable<Buffer | string>, write: (s: string) => void): Promise<void> {
  let buf = '';
  const line = (l: string) => {
    const t = l.trim();
    if (!t) return;
    let m: JsonMessage;
    try {
      m = JSON.parse(t) as JsonMessage;
    } catch {
      write(`${t}\n`);
      return;
    }
    if (m.error || m.errorDetail?.message) throw new ApiError(500, m.errorDetail?.message ?? m.error ?? 'failed');
    if (m.stream !== undefined) write(m.stream);
    else if (m.status !== undefined) write(`${m.id ? `${m.id}: ` : ''}${m.status}\n`);
  };
  for await (const chunk of res) {
    buf += chunk.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      line(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  }
  line(buf);
}

/** The command's binary stdout: a test's Io may carry one; the CLI writes to the process's. */
export function binaryStdout(io: object): NodeJS.WritableStream {
  return (io as { stdout?: NodeJS.WritableStream }).stdout ?? process.stdout;
}

/** A tar the daemon streams (save, export): to `output`, through a temp file beside it renamed when
 *  complete (no half-written archive), or to stdout without one. */
export async function writeArchive(res: NodeJS.ReadableStream, output: string | undefined, io: object): Promise<void> {
  if (!output) {
    await pipeline(res, binaryStdout(io), { end: false });
    return;
  }
  const tmp = `${output}.tmp-${process.pid}`;
  try {
    await pipeline(res, createWriteStream(tmp, { mode: 0o600 }));
    await rename(tmp, output);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

