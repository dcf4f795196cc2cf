// berth network inspect: the network as the daemon reports it — Docker's fields plus berth's
// operator view (bridge device, endpoints, the firewall rules it owns) under "Berth".
import { makeInspect } from '../container/inspect.js';

export default makeInspect('network');
