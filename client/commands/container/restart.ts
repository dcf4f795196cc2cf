// berth restart: stop (signal, then SIGKILL after -t seconds) and start again.
import { makeStop } from './stop.js';

export default makeStop('restart');
