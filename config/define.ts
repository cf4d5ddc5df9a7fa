// Builders for config keys: each makes a typebox (JSON Schema) node carrying default, range and meaning. Imports @sinclair/typebox only.
//
// Contract: every leaf has `default` and `description`; every section is a closed object (additionalProperties
// false) with a description. config/validate.ts derives defaults, validation and env names from these fields and
// config/reference.ts the docs, so a key needs nothing beyond its one builder call.
import { Type, type Static, type TObject, type TProperties, type TSchema } from '@sinclair/typebox';

export type { Static, TSchema };

/** Largest safe integer: "no practical upper bound". */
export const BIG = Number.MAX_SAFE_INTEGER;

export const int = (def: number, minimum: number, maximum: number, description: string) =>
  Type.Integer({ default: def, minimum, maximum, description });

export const str = (def: string, description: string) => Type.String({ default: def, description });

export const nonEmpty = (def: string, description: string) => Type.String({ default: def, minLength: 1, description });

export const bool = (def: boolean, description: string) => Type.Boolean({ default: def, description });

/** A string from a fixed set (JSON Schema enum). */
export const oneOf = <const V extends readonly string[]>(values: V, def: V[number], description: string) =>
  Type.Unsafe<V[number]>({ type: 'string', enum: [...values], default: def, description });

/** true, false, or one named string (e.g. allowAnonymous: true | false | 'loopback'). */
export const boolOr = <const L extends string>(literal: L, def: boolean | L, description: string) =>
  Type.Union([Type.Boolean(), Type.Literal(literal)], { default: def, description });

/** A list of non-empty strings, default empty. */
export const strings = (description: string) => Type.Array(Type.String({ minLength: 1 }), { default: [], description });

/** A group of keys; unknown keys in it are errors. */
export const section = <P extends TProperties>(description: string, properties: P): TObject<P> =>
  Type.Object(properties, { additionalProperties: false, description });
