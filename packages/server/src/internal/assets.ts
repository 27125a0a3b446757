/** The dashboard's static files: read once at start from the package's `static/` folder, served by name only. */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export interface Asset {
  readonly body: Uint8Array
  readonly contentType: string
}

const types: { readonly [ext: string]: string } = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png"
}

/** The package's `static/` folder (next to `src/` and `dist/`). */
export const staticDir = (): string => path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "static")

/** Every servable file under `dir`, by its path relative to it (`vendor/uPlot.min.css`). */
export const load = (dir: string = staticDir()): ReadonlyMap<string, Asset> => {
  const assets = new Map<string, Asset>()
  const walk = (sub: string) => {
    for (const entry of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub === "" ? entry.name : `${sub}/${entry.name}`
      if (entry.isDirectory()) walk(rel)
      else {
        const contentType = types[path.extname(entry.name)]
        if (contentType !== undefined) assets.set(rel, { body: fs.readFileSync(path.join(dir, rel)), contentType })
      }
    }
  }
  walk("")
  return assets
}
