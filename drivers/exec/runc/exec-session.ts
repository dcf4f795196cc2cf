// docker exec: one more process in a running container, run by `<runtime> exec --detach` under
// `conmon --exec`, in a session dir of its own (process.json, pid files, attach socket, ctl fifo).
// conmon answers on the sync pipe twice: the pid once the process runs (or an error), then its exit
// code. The session dir goes when the process has exited.
import { join } from 'node:path';
import type { AttachOptions, AttachSession, ExecSession } from '../../driver.js';
import type { ProcessSpec } from '../../handlers.js';
import { conflict, systemError } from '../../errors.js';
import type { Log } from '../../log.js';
import type { ExecHost } from './host.js';
import { attachTo } from './attach.js';
import { BUNDLE_FILES, EXEC_PROCESS_FILE, conmonExecArgv, parseSync, parseSyncExit, runtimeError } from './conmon.js';
import { buildProcess } from './spec.js';
import { needsLookup, resolveUser } from './user.js';

export interface ExecSessionDeps {
  host: ExecHost;
  log: Log;
  conmon: string;
  runtime: string;
  runtimeRoot: string;
  nofile: number;
}

/** Time conmon may take to open its attach socket and to report the process running. */
const START_TIMEOUT_MS = 30_000;

/** The container's rootfs and hostname, from its config.json (the exec'd process resolves its user
 *  and gets its defaults against the same). */
async function containerBasics(host: ExecHost, bundleDir: string): Promise<{ rootfs: string; hostname: string }> {
  const text = await host.readText(join(bundleDir, BUNDLE_FILES.config));
  if (text === undefined) throw conflict('container is not running');
  const cfg = JSON.parse(text) as { root?: { path?: unknown }; hostname?: unknown };
  if (typeof cfg.root?.path !== 'string') throw systemError(`no root path in ${bundleDir}/config.json`);
  return { rootfs: cfg.root.path, hostname: typeof cfg.hostname === 'string' ? cfg.hostname : '' };
}

export async function startExecSession(
  deps: ExecSessionDeps,
  containerId: string,
  bundleDir: string,
  sessionDir: string,
  process: ProcessSpec,
  io: AttachOptions | undefined,
): Promise<ExecSession> {
  const { host } = deps;
  const { rootfs, hostname } = await containerBasics(host, bundleDir);
  const user = needsLookup(process.user)
    ? resolveUser(process.user, { passwd: await host.readInRoot(rootfs, '/etc/passwd'), group: await host.readInRoot(rootfs, '/etc/group') })
    : resolveUser(process.user, {});
  const proc = buildProcess(process, hostname, user, deps.nofile);

  const cleanup = async () => {
    await Promise.all(
      [...Object.values(BUNDLE_FILES), EXEC_PROCESS_FILE, containerId].map((f) => host.removeFile(join(sessionDir, f))),
    );
    await host.removeDir(sessionDir);
  };
  await host.mkdirp(sessionDir);
  let attached: AttachSession | undefined;
  let conmon: ReturnType<ExecHost['spawnConmonExec']> | undefined;
  try {
    await host.writeAtomic(join(sessionDir, EXEC_PROCESS_FILE), JSON.stringify(proc));
    conmon = host.spawnConmonExec(
      conmonExecArgv({
        conmon: deps.conmon,
        containerId,
        execId: sessionDir.split('/').pop()!,
        runtime: deps.runtime,
        runtimeRoot: deps.runtimeRoot,
        sessionDir,
        tty: process.tty,
        openStdin: process.openStdin,
        attach: io !== undefined,
      }),
      io !== undefined,
    );
    conmon.start(); // conmon's first read, before it forks
    if (io) {
      const ready = await conmon.nextAttach(START_TIMEOUT_MS);
      if (ready === undefined) throw await failure(conmon, 'conmon did not open the attach socket');
      attached = await attachTo(host, sessionDir, io);
      conmon.start(); // now run the process
    }
    const first = parseSync((await conmon.nextSync(START_TIMEOUT_MS)) ?? '');
    if (!first || 'error' in first) throw runtimeError('OCI runtime exec failed', first && 'error' in first ? first.error : 'conmon said nothing');
    const c = conmon;
    const exitCode = (async () => {
      let code = parseSyncExit(await c.nextSync(-1));
      if (code === undefined) {
        // the sync pipe broke: conmon's exit file, if it got that far
        const text = await host.readText(join(sessionDir, containerId)).catch(() => undefined);
        const n = text === undefined ? NaN : Number.parseInt(text, 10);
        code = Number.isInteger(n) && n >= 0 ? n : 255;
      }
      c.close();
      await attached?.ended; // the output is drained before conmon exits
      await cleanup().catch((err: unknown) => deps.log.warn({ err, sessionDir }, 'removing an exec session dir failed'));
      return code;
    })();
    return {
      pid: first.pid,
      exitCode,
      resize: async (h, w) => {
        await host.writeFifo(join(sessionDir, BUNDLE_FILES.ctl), `1 ${h} ${w}\n`).catch((e: NodeJS.ErrnoException) => {
          if (e.code === 'ENXIO' || e.code === 'ENOENT') return; // it has exited
          throw e;
        });
      },
      close: () => attached?.close(),
    };
  } catch (e) {
    attached?.close();
    conmon?.close();
    await cleanup().catch(() => {});
    throw e;
  }
}

async function failure(c: ReturnType<ExecHost['spawnConmonExec']>, fallback: string): Promise<Error> {
  const m = parseSync((await c.nextSync(1000)) ?? '');
  return m && 'error' in m ? runtimeError('OCI runtime exec failed', m.error) : systemError(fallback);
}
