#!/usr/bin/env node
// berthd-cleanup: remove what berth made in the host's network — its firewall rules (tagged
// "<prefix>:<id>") and BERTH chains, its bridges, its netns — after berthd has stopped and its
// containers are gone. Nothing else is touched: other software owns the rest of the host.
// Usage: node dist/bin/berthd-cleanup.mjs [--data-root DIR] [--pidfile FILE] [--name-prefix P]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags } from '../client/flags.js';
import { realSys } from '../drivers/sys/index.js';
import { makeNames } from '../drivers/names.js';

const BRIDGE_OPT = 'com.docker.network.bridge.name';

/** iptables-restore text that deletes berth's rules (ours by tag) and then its chains. */
export function purgeText(save: string, prefix: string): string {
  const tag = new RegExp(`--comment "?${prefix}:[0-9a-f]{12}"?`);
  const out: string[] = [];
  let table = '';
  let dels: string[] = [];
  let chains: string[] = [];
  const flush = () => {
    if (!table || (dels.length === 0 && chains.length === 0)) return;
    out.push(`*${table}`, ...dels, ...chains.map((c) => `-F ${c}`), ...chains.map((c) => `-X ${c}`), 'COMMIT');
  };
  for (const line of save.split('\n')) {
    if (line.startsWith('*')) {
      flush();
      table = line.slice(1).trim();
      dels = [];
      chains = [];
    } else if (line.startsWith(':BERTH')) chains.push(line.slice(1).split(' ')[0]!);
    else if (line.startsWith('-A ') && tag.test(line) && !/^-A BERTH/.test(line)) dels.push('-D ' + line.slice(3));
  }
  flush();
  return out.length ? out.join('\n') + '\n' : '';
}

async function main(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, {
    'data-root': { type: 'string' },
    pidfile: { type: 'string' },
    'name-prefix': { type: 'string' },
  });
  const dataRoot = flags['data-root'] ?? '/var/lib/berth';
  const pidfile = flags.pidfile ?? '/run/berth/berthd.pid';
  const names = makeNames(flags['name-prefix'] ?? 'berth');
  try {
    const pid = Number(readFileSync(pidfile, 'utf8').trim());
    process.kill(pid, 0);
    process.stderr.write(`berthd (pid ${pid}) is running: stop it first\n`);
    return 1;
  } catch {
    /* not running */
  }
  const sys = realSys();
  for (const family of [4, 6] as const) {
    const save = await sys.iptables.save(undefined, family).catch(() => '');
    const text = purgeText(save, names.prefix);
    if (text) await sys.iptables.restore(text, family);
  }
  let bridges: string[] = [];
  try {
    const dir = join(dataRoot, 'state', 'network');
    bridges = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { driver: string; options?: Record<string, string> }))
      .filter((n) => n.driver === 'bridge' && n.options?.[BRIDGE_OPT])
      .map((n) => n.options![BRIDGE_OPT]!);
  } catch {
    /* no state */
  }
  for (const br of bridges) await sys.ip.batch([`link del ${br}`]).catch(() => {});
  const netns = (await sys.ip.json<{ name: string }[]>(['netns', 'list']).catch(() => [])) ?? [];
  const ours = netns.map((n) => n.name).filter((n) => new RegExp(`^${names.prefix}-[0-9a-f]{12}$`).test(n));
  if (ours.length) await sys.ip.batch(ours.map((n) => `netns del ${n}`), { force: true }).catch(() => {});
  process.stdout.write(`removed berth's rules and chains, ${bridges.length} bridge(s), ${ours.length} netns\n`);
  return 0;
}

if (/cleanup\.(js|mjs)$/.test(process.argv[1] ?? '')) {
  main(process.argv.slice(2)).then(
    (c) => process.exit(c),
    (e) => {
      process.stderr.write(`berthd-cleanup: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
