/** The workspace's root directory. */
export declare const workspaceRoot: string
/** The packages meant for users, by directory under `packages/`, in dependency order. */
export declare const publicPackages: ReadonlyArray<string>
/** Runs a command; resolves with its stdout, rejects with its output when it exits non-zero. */
export declare const run: (
  command: string,
  args: ReadonlyArray<string>,
  options?: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv }
) => Promise<string>
/** Runs pnpm with `args` in `cwd`. */
export declare const runPnpm: (args: ReadonlyArray<string>, cwd: string) => Promise<string>
/** `pnpm build` in the workspace (turbo: cached and incremental). */
export declare const build: () => Promise<string>
/** Packs every public package into `dest` with `pnpm pack`; resolves with the tarball paths by package name. */
export declare const pack: (dest: string) => Promise<{ readonly [name: string]: string }>
/** The version of `name` installed in the workspace. */
export declare const workspaceVersion: (name: string) => string
/** The peer dependencies of the given public packages. */
export declare const peerDependencies: (names: ReadonlyArray<string>) => ReadonlyArray<string>
/** Creates and installs a project in `dir` depending on `packages` (from `tarballs`), their peers and `extra`. */
export declare const createProject: (
  dir: string,
  options: {
    readonly tarballs: { readonly [name: string]: string }
    readonly packages: ReadonlyArray<string>
    readonly extra?: ReadonlyArray<string>
  }
) => Promise<string>
/** A fresh temporary directory outside the workspace. */
export declare const tempDir: (prefix: string) => string
