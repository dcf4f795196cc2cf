// berth container inspect: containers only.
import { makeInspect } from './inspect.js';

export default makeInspect('container');
