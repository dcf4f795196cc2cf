// berth image inspect: the generic inspect, asking for images only.
import { makeInspect } from '../container/inspect.js';

export default makeInspect('image');
