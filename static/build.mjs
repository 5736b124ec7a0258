// Bundles static/src/ (our code, CodeMirror, xterm.js) into static/dist/ with esbuild.
// `npm run build` once (make run / make test do it when a source changed); `npm run watch` while editing.
import * as esbuild from "esbuild";

const options = {
  entryPoints: { kubedojo: "static/src/main.js" },
  bundle: true,
  format: "iife",
  target: ["chrome110", "firefox110", "safari16"],
  outdir: "static/dist",
  minify: true,
  sourcemap: "linked",
  legalComments: "linked",
  logLevel: "warning",
};

if (process.argv.includes("--watch")) {
  const ctx = await esbuild.context({ ...options, minify: false });
  await ctx.watch();
  console.log("watching static/src/ ...");
} else {
  await esbuild.build(options);
}
