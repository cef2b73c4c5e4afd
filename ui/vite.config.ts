import react from '@vitejs/plugin-react'
import { defineConfig, type Plugin } from 'vite'
import { D3_FLAME_GRAPH_BUNDLE, patchD3FlameGraph } from './src/d3-flame-graph-patch'

/** d3-flame-graph's bundle with its label boxes left out (see src/d3-flame-graph-patch.ts). */
function d3FlameGraphPatch(): Plugin {
  return {
    name: 'kiln:d3-flame-graph-patch',
    apply: 'build',
    transform(code, id) {
      return id.endsWith(D3_FLAME_GRAPH_BUNDLE)
        ? { code: patchD3FlameGraph(code), map: null }
        : null
    },
  }
}

export default defineConfig({
  // Relative asset URLs, so the server can serve dist/ from `/` (or any prefix).
  base: './',
  plugins: [react(), d3FlameGraphPatch()],
  server: {
    proxy: { '/api': 'http://localhost:4040' },
  },
  build: { outDir: 'dist', emptyOutDir: true },
})
