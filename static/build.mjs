// Bundles static/src/ (our code, CodeMirror, xterm.js) into static/dist/ with esbuild:
//   dist/base.css      the palette and top bar every page links (static/src/base.css)
//   dist/kubedojo.js   the cluster map page, with its styles in dist/kubedojo.css (app.css, xterm.css)
// `npm run build` once (make run / make test do it when a source changed); `npm run watch` while editing.
import * as esbuild from "esbuild";

const options = {
  entryPoints: { kubedojo: "static/src/main.js", base: "static/src/base.css" },
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
