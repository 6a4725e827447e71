// Converters and the validator accept schemas from a plain /object_info map, a registry of node
// implementations, or a lookup function; this turns any of them into one lookup.
import type { NodeRegistry } from './nodeDefinition';
import type { ObjectInfo, ObjectInfoEntry } from './objectInfo';

export type SchemaLookup = (classType: string) => ObjectInfoEntry | undefined;
export type SchemaSource = ObjectInfo | NodeRegistry | SchemaLookup;

export function isRegistry(source: SchemaSource): source is NodeRegistry {
  return source instanceof Map;
}

export function toLookup(source: SchemaSource): SchemaLookup {
  if (typeof source === 'function') return source;
  if (isRegistry(source)) return (c) => source.get(c)?.schema;
  return (c) => (Object.prototype.hasOwnProperty.call(source, c) ? source[c] : undefined);
}
