/**
 * Type-level reading of DSPy signature strings, so `Signature.make("q, k: int -> a: list[str]")` is a
 * `Signature<{ readonly q: string; readonly k: number }, { readonly a: ReadonlyArray<string> }>`.
 * A string that is not a literal type gives `{ readonly [key: string]: unknown }`.
 *
 * @internal
 */
import type * as Media from "../../media/Media.js"

type Ws = " " | "\n" | "\t" | "\r"

type TrimLeft<S extends string> = S extends `${Ws}${infer R}` ? TrimLeft<R> : S
type TrimRight<S extends string> = S extends `${infer R}${Ws}` ? TrimRight<R> : S
type Trim<S extends string> = TrimLeft<TrimRight<S>>

/** Splits on commas outside brackets. `D` counts open brackets as a tuple. */
type SplitTop<
  S extends string,
  D extends ReadonlyArray<0> = [],
  Cur extends string = "",
  Acc extends ReadonlyArray<string> = []
> = S extends `${infer C}${infer R}`
  ? C extends "["
    ? SplitTop<R, [...D, 0], `${Cur}${C}`, Acc>
    : C extends "]"
      ? SplitTop<R, D extends readonly [0, ...infer T extends ReadonlyArray<0>] ? T : [], `${Cur}${C}`, Acc>
      : C extends ","
        ? D extends []
          ? SplitTop<R, D, "", [...Acc, Trim<Cur>]>
          : SplitTop<R, D, `${Cur}${C}`, Acc>
        : SplitTop<R, D, `${Cur}${C}`, Acc>
  : Trim<Cur> extends ""
    ? Acc
    : [...Acc, Trim<Cur>]

type Unquote<S extends string> = S extends `'${infer V}'` ? V : S extends `"${infer V}"` ? V : S

type LiteralOf<S extends string> = S extends "True"
  ? true
  : S extends "False"
    ? false
    : S extends `${infer N extends number}`
      ? N
      : Unquote<S>

type LiteralUnion<Parts extends ReadonlyArray<string>> = Parts[number] extends infer P extends string
  ? P extends string
    ? LiteralOf<P>
    : never
  : never

/** @internal */
export type TypeOf<T extends string> = T extends "str" | "string" | ""
  ? string
  : T extends "int" | "float"
    ? number
    : T extends "bool"
      ? boolean
      : T extends "Image"
        ? Media.Image
        : T extends "Audio"
          ? Media.Audio
          : T extends `${"list" | "List"}[${infer X}]`
            ? ReadonlyArray<TypeOf<Trim<X>>>
            : T extends `${"dict" | "Dict"}[${infer KV}]`
              ? SplitTop<KV> extends readonly [string, infer V extends string]
                ? { readonly [key: string]: TypeOf<V> }
                : unknown
              : T extends `Optional[${infer X}]`
                ? TypeOf<Trim<X>> | null
                : T extends `Literal[${infer L}]`
                  ? LiteralUnion<SplitTop<L>>
                  : unknown

type FieldEntry<F extends string> = F extends `${infer N}:${infer T}` ? [Trim<N>, TypeOf<Trim<T>>] : [Trim<F>, string]

type FieldsOf<Parts extends ReadonlyArray<string>> = {
  readonly [E in Parts[number] as FieldEntry<E>[0]]: FieldEntry<E>[1]
}

type Sides<S extends string> = S extends `${infer I}->${infer O}` ? [I, O] : never

/** @internal */
export type ParseInputs<S extends string> = string extends S
  ? { readonly [key: string]: unknown }
  : Sides<S> extends [infer I extends string, string]
    ? FieldsOf<SplitTop<I>>
    : { readonly [key: string]: unknown }

/** @internal */
export type ParseOutputs<S extends string> = string extends S
  ? { readonly [key: string]: unknown }
  : Sides<S> extends [string, infer O extends string]
    ? FieldsOf<SplitTop<O>>
    : { readonly [key: string]: unknown }
