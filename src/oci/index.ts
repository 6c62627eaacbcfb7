export { parseImageRef, parseRegistryRef, parseLayoutRef, formatRef } from './reference.js';
export { parsePlatform } from './manifest.js';
