// berth inspect: JSON (indented as docker) or a --format template for each object. The generic
// command tries container, image, network, then volume, as docker does (swarm objects aside);
// `container inspect`, `network inspect` ask for their kind only.
import { ApiError, type Api } from '../../api.js';
import { defineCommand, UsageError, type Command } from '../../command.js';
import { parseFlags, type FlagSpec } from '../../flags.js';
import { compileFormat } from '../../format.js';
import { seg } from './shared.js';

export type ObjectType = 'container' | 'image' | 'network' | 'volume';
const TYPES: readonly ObjectType[] = ['container', 'image', 'network', 'volume'];

function path(t: ObjectType, ref: string, o: Options): { path: string; query?: Record<string, string | number | undefined> } {
  switch (t) {
    case 'container':
      return { path: `/containers/${seg(ref)}/json`, query: { size: o.size ? 1 : undefined } };
    case 'image':
      return { path: `/images/${seg(ref)}/json` };
    case 'network':
      return { path: `/networks/${seg(ref)}`, query: { verbose: o.verbose ? 'true' : undefined } };
    case 'volume':
      return { path: `/volumes/${seg(ref)}` };
  }
}

/** docker's isErrSkippable: not found, or a kind this daemon does not have. */
function skippable(e: unknown): boolean {
  return e instanceof ApiError && (e.status === 404 || /not supported|invalid reference format/.test(e.message));
}

interface Options {
  refs: string[];
  format?: string;
  size: boolean;
  verbose?: boolean;
  type?: string;
}

/** Look one reference up; `undefined` + message when nothing matched. */
async function lookup(api: Api, o: Options, ref: string): Promise<{ value?: unknown; error?: string }> {
  const types = o.type ? [o.type as ObjectType] : TYPES;
  for (const t of types) {
    const p = path(t, ref, o);
    try {
      const { body } = await api.call('GET', p.path, p.query ? { query: p.query } : {});
      return { value: body };
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      if (!o.type && skippable(e)) continue;
      return { error: `Error response from daemon: ${e.message}` };
    }
  }
  return { error: `Error: No such object: ${ref}` };
}

export function makeInspect(kind?: ObjectType): Command<Options> {
  const usage = kind
    ? `${kind} inspect [OPTIONS] ${kind.toUpperCase()} [${kind.toUpperCase()}...]\n\nDisplay detailed information on one or more ${kind}s\n\nOptions:\n  -f, --format string   Format output using a custom template${kind === 'container' ? '\n  -s, --size            Display total file sizes' : ''}${kind === 'network' ? '\n  -v, --verbose         Verbose output for diagnostics' : ''}`
    : 'inspect [OPTIONS] NAME|ID [NAME|ID...]\n\nReturn low-level information on Docker objects\n\nOptions:\n  -f, --format string   Format output using a custom template\n  -s, --size            Display total file sizes if the type is container\n      --type string     Only inspect objects of the given type';
  return defineCommand<Options>({
    usage,
    parse(argv) {
      const spec: FlagSpec = { format: { type: 'string', short: 'f' } };
      if (kind === 'network') spec.verbose = { type: 'bool', short: 'v' };
      if (kind === undefined || kind === 'container') spec.size = { type: 'bool', short: 's' };
      if (kind === undefined) spec.type = { type: 'string' };
      const { flags, args } = parseFlags(argv, spec);
      const f = flags as { format?: string; size?: boolean; type?: string; verbose?: boolean };
      if (!args.length) throw new UsageError(`"${kind ? `${kind} inspect` : 'inspect'}" requires at least 1 argument.`);
      const type = kind ?? (f.type || undefined);
      return {
        refs: args,
        ...(f.format ? { format: f.format } : {}),
        size: f.size ?? false,
        ...(f.verbose ? { verbose: true } : {}),
        ...(type ? { type } : {}),
      };
    },
    async run(api, o, io) {
      if (o.type !== undefined && !(TYPES as readonly string[]).includes(o.type))
        throw new Error(`unknown type: "${o.type}": must be one of ${TYPES.map((t) => `"${t}"`).join(', ')}`);
      const found: unknown[] = [];
      const errors: string[] = [];
      for (const ref of o.refs) {
        const r = await lookup(api, o, ref);
        if (r.error !== undefined) errors.push(r.error);
        else found.push(r.value);
      }
      if (o.format && o.format !== 'json') {
        const t = compileFormat(o.format);
        for (const v of found) io.out(`${t.row(v)}\n`);
      } else {
        io.out(`${JSON.stringify(found, null, 4)}\n`);
      }
      for (const e of errors) io.err(`${e}\n`);
      return errors.length ? 1 : 0;
    },
  });
}

export default makeInspect();
