import type { z } from 'zod';

const UNKNOWN = 'unknown key';

/** How a refused key is worded everywhere, so the loader can tell it from a bad value. */
export function unknownKeyMessage(known: string[]): string {
  return `${UNKNOWN}; expected one of ${known.join(', ')}`;
}

export const isUnknownKeyMessage = (message: string) => message.startsWith(UNKNOWN);

/**
 * For an open record that a schema checks by hand later (threshold or behaviour overrides merged over
 * defaults): its keys `schema` has no place for become issues of the enclosing parse, at their full path,
 * so the config loader can say which source they came from.
 */
export function reportUnknownKeys(
  ctx: z.core.$RefinementCtx,
  schema: z.ZodType,
  value: unknown,
  path: (string | number)[] = [],
): void {
  for (const { path: key, known } of unknownKeys(schema, value))
    ctx.addIssue({ code: 'custom', path: [...path, ...key], message: unknownKeyMessage(known) });
}

/** A key the schema has no place for, with the keys it does have there. */
export interface UnknownKey {
  path: (string | number)[];
  known: string[];
}

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  discriminator?: string;
  left?: z.ZodType;
  right?: z.ZodType;
  getter?: () => z.ZodType;
};

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

function isPlain(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The keys an object schema names, however it is wrapped (default, optional, preprocess, transform…). */
function shapeOf(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const def = defOf(schema);
  if (def.type === 'object') return def.shape;
  const inner = innerOf(def);
  return inner ? shapeOf(inner) : undefined;
}

/** The schema that sees the value as written: through wrappers, into a preprocess, not into a transform. */
function innerOf(def: Def): z.ZodType | undefined {
  if (def.type === 'pipe') return def.in && defOf(def.in).type === 'transform' ? def.out : def.in;
  if (def.type === 'lazy') return def.getter?.();
  return def.innerType;
}

/**
 * Every key in `value` that `schema` would drop or refuse as unknown, by its full path. zod's plain objects
 * strip unknown keys silently, so a misspelt setting (`batchh:`) would otherwise just not apply. Objects
 * that declare a catch-all (loose objects, records) take any key.
 */
export function unknownKeys(schema: z.ZodType, value: unknown, path: (string | number)[] = []): UnknownKey[] {
  const def = defOf(schema);
  switch (def.type) {
    case 'object': {
      if (!isPlain(value)) return [];
      const shape = def.shape ?? {};
      const open = def.catchall !== undefined && defOf(def.catchall).type !== 'never';
      const found: UnknownKey[] = [];
      for (const [key, child] of Object.entries(value)) {
        const field = shape[key];
        if (field) found.push(...unknownKeys(field, child, [...path, key]));
        else if (open) found.push(...unknownKeys(def.catchall!, child, [...path, key]));
        else found.push({ path: [...path, key], known: Object.keys(shape) });
      }
      return found;
    }
    case 'array':
      return Array.isArray(value) ? value.flatMap((v, i) => unknownKeys(def.element!, v, [...path, i])) : [];
    case 'record':
      return isPlain(value)
        ? Object.entries(value).flatMap(([k, v]) => unknownKeys(def.valueType!, v, [...path, k]))
        : [];
    case 'union':
      return unionKeys(def, value, path);
    case 'intersection':
      // A key is unknown only if neither side has it; the sides' nested objects are checked by both.
      return intersect(unknownKeys(def.left!, value, path), unknownKeys(def.right!, value, path));
    default: {
      const inner = innerOf(def);
      return inner ? unknownKeys(inner, value, path) : [];
    }
  }
}

/** The option the value means (its discriminator, else the one it fits best) decides what is unknown. */
function unionKeys(def: Def, value: unknown, path: (string | number)[]): UnknownKey[] {
  const options = def.options ?? [];
  if (def.discriminator && isPlain(value)) {
    const tag = value[def.discriminator];
    const chosen = options.filter((o) => {
      const field = shapeOf(o)?.[def.discriminator!];
      return field?.safeParse(tag).success ?? false;
    });
    if (chosen.length === 1) return unknownKeys(chosen[0]!, value, path);
  }
  let best: UnknownKey[] | undefined;
  for (const option of options) {
    const found = unknownKeys(option, value, path);
    if (!best || found.length < best.length) best = found;
    if (found.length === 0) break;
  }
  return best ?? [];
}

function intersect(a: UnknownKey[], b: UnknownKey[]): UnknownKey[] {
  const inB = new Set(b.map((k) => k.path.join('.')));
  return a.filter((k) => inB.has(k.path.join('.')));
}
