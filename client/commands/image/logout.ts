// berth logout [SERVER]: forget the stored credentials of a registry (Docker Hub by default),
// including entries stored with a scheme ("https://host").
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { configPath, readConfig, serverKey, writeConfig } from './credentials.js';

export default defineCommand({
  usage: 'logout [SERVER]\n\nLog out from a registry.\nIf no server is specified, the default is defined by the daemon.',
  parse(argv): { server?: string } {
    const { args } = parseFlags(argv, {});
    if (args.length > 1) throw new UsageError('"logout" requires at most 1 argument.');
    return args[0] ? { server: args[0] } : {};
  },
  async run(_api, o, io) {
    const key = serverKey(o.server);
    const path = configPath(io.env);
    const cfg = readConfig(path);
    const auths = cfg.auths ?? {};
    const victims = Object.keys(auths).filter((k) => serverKey(k) === key);
    if (victims.length === 0) {
      io.out(`Not logged in to ${key}\n`);
      return 0;
    }
    io.out(`Removing login credentials for ${key}\n`);
    for (const k of victims) delete auths[k];
    writeConfig(path, cfg);
    return 0;
  },
});
