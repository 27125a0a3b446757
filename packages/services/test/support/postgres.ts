/** The throwaway PostgreSQL server of the tests: `TestPostgres` (shared with other packages' tests). */
export * from "../../src/TestPostgres.js"
