// Legacy links (`--link name:alias`): the environment Docker gives the linking container.
// Pure: from the linked container's name, address, exposed ports and environment.

export interface LinkTarget {
  /** `/<linking container>/<alias>`, as Docker's <ALIAS>_NAME. */
  fullName: string;
  alias: string;
  ip: string;
  /** "80/tcp" keys, as in ExposedPorts. */
  exposed: string[];
  env: string[];
}

function portKey(k: string): { port: number; proto: string } {
  const [p, proto = 'tcp'] = k.split('/');
  return { port: Number(p), proto };
}

export function linkEnv(t: LinkTarget): string[] {
  const A = t.alias.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  const ports = t.exposed.map(portKey).sort((a, b) => a.port - b.port || a.proto.localeCompare(b.proto));
  const env: string[] = [];
  if (ports[0]) env.push(`${A}_PORT=${ports[0].proto}://${t.ip}:${ports[0].port}`);
  for (const { port, proto } of ports) {
    const P = `${A}_PORT_${port}_${proto.toUpperCase()}`;
    env.push(`${P}=${proto}://${t.ip}:${port}`, `${P}_ADDR=${t.ip}`, `${P}_PORT=${port}`, `${P}_PROTO=${proto}`);
  }
  env.push(`${A}_NAME=${t.fullName}`);
  for (const kv of t.env) {
    const eq = kv.indexOf('=');
    if (eq <= 0) continue;
    const name = kv.slice(0, eq);
    if (name === 'HOME' || name === 'PATH') continue; // as Docker: build-time noise
    env.push(`${A}_ENV_${name}=${kv.slice(eq + 1)}`);
  }
  return env;
}
