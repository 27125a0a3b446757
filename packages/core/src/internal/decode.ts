/**
 * Schema decoding of data from outside (saved programs and signatures) that never throws.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"

/**
 * `Schema.decodeUnknownEither`, with a throw during decoding turned into a `ParseError`: Effect 3.22's union
 * decoding turns a tag into a string and throws on an object without a prototype, which is not plain data but
 * can reach a function that takes `unknown`.
 *
 * @internal
 */
export const decodeUnknownEither =
  <A, I>(schema: Schema.Schema<A, I>) =>
  (input: unknown): Either.Either<A, ParseResult.ParseError> => {
    try {
      return Schema.decodeUnknownEither(schema)(input)
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : "decoding threw"
      return Either.left(
        new ParseResult.ParseError({ issue: new ParseResult.Type(schema.ast, input, `not plain data (${reason})`) })
      )
    }
  }
