// A docker-style (pflag-like) flag parser, pure: `-d`, `--detach`, `--detach=false`, `-it` (grouped
// shorts), `-p 80`, `-p80`, `-p=80`, `--publish 80`, `--publish=80`, repeatable list flags, `--`.
// With `interspersed: false` parsing stops at the first positional (`run IMAGE CMD -flags-of-cmd`).
// Used by the CLI and by berthd's own flags.

export type FlagType = 'bool' | 'string' | 'list';

export interface FlagDef {
  type: FlagType;
  short?: string;
  /** Extra long names (`--net` for `--network`). */
  aliases?: string[];
}

export type FlagSpec = Record<string, FlagDef>;

export type FlagValues<S extends FlagSpec> = {
  [K in keyof S]?: S[K]['type'] extends 'bool' ? boolean : S[K]['type'] extends 'list' ? string[] : string;
};

export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlagError';
  }
}

export function parseBool(name: string, v: string): boolean {
  const s = v.toLowerCase();
  if (['1', 't', 'true', 'yes'].includes(s)) return true;
  if (['0', 'f', 'false', 'no'].includes(s)) return false;
  throw new FlagError(`invalid argument "${v}" for "--${name}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`);
}

export function parseFlags<S extends FlagSpec>(
  argv: readonly string[],
  spec: S,
  opts: { interspersed?: boolean } = {},
): { flags: FlagValues<S>; args: string[] } {
  const interspersed = opts.interspersed ?? true;
  const byLong = new Map<string, string>();
  const byShort = new Map<string, string>();
  for (const [name, def] of Object.entries(spec)) {
    byLong.set(name, name);
    for (const a of def.aliases ?? []) byLong.set(a, name);
    if (def.short) byShort.set(def.short, name);
  }
  const flags: Record<string, boolean | string | string[]> = {};
  const args: string[] = [];
  const set = (name: string, value: string | boolean) => {
    const def = spec[name]!;
    if (def.type === 'list') ((flags[name] as string[] | undefined) ?? (flags[name] = [])).push(String(value));
    else flags[name] = value;
  };

  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const key = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      const name = byLong.get(key);
      if (!name) throw new FlagError(`unknown flag: --${key}`);
      const def = spec[name]!;
      if (def.type === 'bool') set(name, eq >= 0 ? parseBool(key, a.slice(eq + 1)) : true);
      else if (eq >= 0) set(name, a.slice(eq + 1));
      else {
        if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: --${key}`);
        set(name, argv[++i]!);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      // grouped shorts: -it, -dp 80:80, -p80, -p=80
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const name = byShort.get(c);
        if (!name) throw new FlagError(`unknown shorthand flag: '${c}' in ${a}`);
        const def = spec[name]!;
        if (def.type === 'bool') {
          if (a[j + 1] === '=') {
            set(name, parseBool(name, a.slice(j + 2)));
            break;
          }
          set(name, true);
          continue;
        }
        let rest = a.slice(j + 1);
        if (rest.startsWith('=')) rest = rest.slice(1);
        if (rest !== '') set(name, rest);
        else {
          if (i + 1 >= argv.length) throw new FlagError(`flag needs an argument: '${c}' in -${c}`);
          set(name, argv[++i]!);
        }
        break;
      }
      continue;
    }
    args.push(a);
    if (!interspersed) {
      i++;
      break;
    }
  }
  args.push(...argv.slice(i));
  return { flags: flags as FlagValues<S>, args };
}
