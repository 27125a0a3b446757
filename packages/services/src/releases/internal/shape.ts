/**
 * A program's shape: its predictor paths and each predictor's fields (name, kind, type), fingerprinted. Two
 * programs of one shape can load each other's state; a module re-registered with another shape cannot take
 * its stored versions.
 */
import { Module } from "@effect-dspy/core"
import { CanonicalJson } from "@effect-dspy/foundation"

/** The shape of a program as canonical data. */
export const describeShape = (program: Module.Program): ReadonlyArray<unknown> =>
  Module.namedPredictors(program).map(({ path, predictor }) => [
    path,
    predictor.signature.fields.map((f: { readonly name: string; readonly kind: string; readonly typeName: string }) => [
      f.name,
      f.kind,
      f.typeName
    ])
  ])

/** The fingerprint of a program's shape (sha256 of its canonical description, 16 hex digits). */
export const shapeOf = (program: Module.Program): string => CanonicalJson.sha256(describeShape(program)).slice(0, 16)
