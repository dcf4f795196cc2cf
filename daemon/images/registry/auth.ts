// Registry credentials and challenges, pure: the WWW-Authenticate header (RFC 7235: schemes with
// token or quoted-string parameters, several challenges in one header or in several), the
// X-Registry-Auth header docker's CLI sends (base64url JSON of an AuthConfig), and the token
// endpoint's answer. Talking to the token endpoint is client.ts's job.
import { invalidParameter } from '../../../drivers/errors.js';

/** What a request may authenticate with (docker's AuthConfig, the parts that matter). */
export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth refresh token from an earlier login (docker's identitytoken). */
  identityToken?: string;
  /** A bearer token to send as is (docker's registrytoken). */
  registryToken?: string;
}

export interface Challenge {
  /** Lower-cased: "bearer", "basic". */
  scheme: string;
  /** Parameter names lower-cased: realm, service, scope, error. */
  params: Record<string, string>;
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;

/** Every challenge in the given WWW-Authenticate values, in order. Malformed parts end the parse
 *  (what was read stays): a registry's odd header must not hide a good challenge before it. */
export function parseWwwAuthenticate(values: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  const list = values === undefined ? [] : Array.isArray(values) ? values : [values];
  for (const s of list) parseOne(s, out);
  return out;
}

function parseOne(s: string, out: Challenge[]): void {
  let i = 0;
  const ws = () => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string | undefined => {
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(s);
    if (!m) return undefined;
    i = TOKEN.lastIndex;
    return m[0];
  };
  const quoted = (): string | undefined => {
    if (s[i] !== '"') return undefined;
    let r = '';
    for (i++; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\\' && i + 1 < s.length) r += s[++i];
      else if (c === '"') {
        i++;
        return r;
      } else r += c;
    }
    return undefined; // unterminated
  };
  for (;;) {
    ws();
    while (s[i] === ',') {
      i++;
      ws();
    }
    if (i >= s.length) return;
    const scheme = token();
    if (!scheme) return;
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(ch);
    ws();
    // token68 form ("Basic abc=="): not used by registries; skip it.
    for (;;) {
      ws();
      const save = i;
      const name = token();
      if (!name) return;
      ws();
      if (s[i] !== '=') {
        i = save; // the next challenge's scheme
        break;
      }
      i++;
      ws();
      const value = s[i] === '"' ? quoted() : token();
      if (value === undefined) return;
      ch.params[name.toLowerCase()] = value;
      ws();
      if (s[i] === ',') {
        i++;
        continue;
      }
      if (i >= s.length) return;
      // Not a comma: a malformed header; stop here.
      return;
    }
  }
}

/** docker's X-Registry-Auth: base64url (or standard base64) JSON. Absent, empty or "{}" is no
 *  credentials. `auth` (base64 "user:password", as config.json stores it) is understood too. */
export function decodeRegistryAuth(header: string | undefined): Credentials | undefined {
  if (!header || !header.trim()) return undefined;
  let obj: Record<string, unknown>;
  try {
    const json = Buffer.from(header.trim().replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
    obj = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw invalidParameter('invalid X-Registry-Auth header: not base64-encoded JSON');
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw invalidParameter('invalid X-Registry-Auth header: not a JSON object');
  return credentialsFrom(obj);
}

/** Credentials from an AuthConfig-shaped object (the X-Registry-Auth JSON, the POST /auth body). */
export function credentialsFrom(obj: Record<string, unknown>): Credentials | undefined {
  const str = (k: string) => (typeof obj[k] === 'string' && obj[k] !== '' ? (obj[k] as string) : undefined);
  const c: Credentials = {};
  let username = str('username') ?? str('Username');
  let password = str('password') ?? str('Password');
  const auth = str('auth') ?? str('Auth');
  if (auth && username === undefined) {
    const plain = Buffer.from(auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon > 0) {
      username = plain.slice(0, colon);
      password = plain.slice(colon + 1) || undefined;
    }
  }
  if (username !== undefined) c.username = username;
  if (password !== undefined) c.password = password;
  const idt = str('identitytoken') ?? str('IdentityToken');
  if (idt) c.identityToken = idt;
  const rt = str('registrytoken') ?? str('RegistryToken');
  if (rt) c.registryToken = rt;
  return Object.keys(c).length ? c : undefined;
}

export function basicHeader(c: Credentials): string | undefined {
  if (c.username === undefined || c.password === undefined) return undefined;
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** A token endpoint's JSON answer: `token` or `access_token` (OAuth2 form). */
export function tokenFromAnswer(body: unknown): { token: string; expiresIn: number } {
  const o = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const token = typeof o.token === 'string' && o.token ? o.token : typeof o.access_token === 'string' ? o.access_token : '';
  if (!token) throw new Error('the token server answered without a token');
  const exp = typeof o.expires_in === 'number' && o.expires_in > 0 ? o.expires_in : 60;
  return { token, expiresIn: exp };
}

/** "repository:library/busybox:pull,push" */
export function repositoryScope(path: string, actions: readonly string[]): string {
  return `repository:${path}:${actions.join(',')}`;
}
