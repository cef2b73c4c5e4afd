import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

export default defineConfig({
  // Relative asset URLs, so the server can serve dist/ from `/` (or any prefix).
  base: './',
  plugins: [react()],
  server: {
    proxy: { '/api': 'http://localhost:4040' },
  },
  build: { outDir: 'dist', emptyOutDir: true },
})
