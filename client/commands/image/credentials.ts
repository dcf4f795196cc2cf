// Registry credentials on the client, kept as docker keeps them: a config.json whose "auths" map a
// registry (Docker Hub as "https://index.docker.io/v1/", others as host[:port]) to
// {"auth": base64("user:password")} or a username with an "identitytoken". The file is
// $BERTH_CONFIG/config.json (a directory, as DOCKER_CONFIG) or ~/.berth/config.json, mode 0600,
// written atomically. Pulls and pushes send the matching entry as X-Registry-Auth (base64url JSON).
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseImageRef } from '../../opts/image-ref.js';

export const HUB_KEY = 'https://index.docker.io/v1/';
const HUB_NAMES = ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'];

export interface AuthEntry {
  auth?: string;
  identitytoken?: string;
  [k: string]: unknown;
}

export interface ClientConfig {
  auths?: Record<string, AuthEntry>;
  [k: string]: unknown;
}

export function configPath(env: Record<string, string | undefined>): string {
  const dir = env.BERTH_CONFIG || join(env.HOME || homedir(), '.berth');
  return join(dir, 'config.json');
}

export function readConfig(path: string): ClientConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  try {
    const c = JSON.parse(text) as ClientConfig;
    return c && typeof c === 'object' && !Array.isArray(c) ? c : {};
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

export function writeConfig(path: string, c: ClientConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, JSON.stringify(c, null, '\t') + '\n', { mode: 0o600 });
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** The config key for what a user typed to `login`/`logout` (or a registry host from an image). */
export function serverKey(server: string | undefined): string {
  if (!server) return HUB_KEY;
  const host = server.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  return HUB_NAMES.includes(host) ? HUB_KEY : host;
}

/** The registry host of an image reference ("busybox" → docker.io, "localhost:5000/x" → localhost:5000). */
export function registryOfImage(image: string): string {
  const repo = parseImageRef(image).repository;
  return repo.slice(0, repo.indexOf('/'));
}

/** The stored entry for a server key; keys written with a scheme or path ("https://host/") match too. */
export function findAuth(c: ClientConfig, key: string): AuthEntry | undefined {
  const auths = c.auths ?? {};
  if (auths[key]) return auths[key];
  for (const [k, v] of Object.entries(auths)) if (serverKey(k) === key) return v;
  return undefined;
}

/** The X-Registry-Auth header for pulling or pushing `image`, when credentials are stored. */
export function registryAuthHeader(env: Record<string, string | undefined>, image: string): Record<string, string> {
  const key = serverKey(registryOfImage(image));
  let entry: AuthEntry | undefined;
  try {
    entry = findAuth(readConfig(configPath(env)), key);
  } catch {
    entry = undefined;
  }
  if (!entry) return {};
  const body: Record<string, string> = { serveraddress: key };
  if (typeof entry.auth === 'string' && entry.auth) {
    const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = plain.indexOf(':');
    if (i > 0) {
      body.username = plain.slice(0, i);
      if (plain.slice(i + 1)) body.password = plain.slice(i + 1);
    }
  }
  if (typeof entry.identitytoken === 'string' && entry.identitytoken) body.identitytoken = entry.identitytoken;
  return { 'X-Registry-Auth': encodeAuth(body) };
}

/** base64url with padding, as docker's client encodes it. */
export function encodeAuth(o: object): string {
  return Buffer.from(JSON.stringify(o)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
