// A CommonJS loader for the browser tests: lets a page `require()` an npm package as installed in
// node_modules (JsSIP ships CommonJS only), without a bundler. Synchronous on purpose: module code expects
// require() to return at once. Resolution follows Node's: relative files (.js, /index.js), then packages
// by their package.json "browser" (when it is a string) or "main".
"use strict";
(function () {
  const cache = new Map();

  function fetchText(url) {
    const request = new XMLHttpRequest();
    request.open("GET", url, false);
    request.send();
    return request.status === 200 ? request.responseText : null;
  }

  function resolveFile(url) {
    const named = /\.(js|json)$/.test(url);
    for (const candidate of named ? [url] : [url + ".js", url + "/index.js", url]) {
      if (cache.has(candidate)) return { url: candidate, text: null };
      if (candidate.endsWith("/")) continue;
      const text = fetchText(candidate);
      if (text !== null && !text.startsWith("<!")) return { url: candidate, text };
    }
    throw new Error("cannot find module " + url);
  }

  function resolvePackage(name) {
    const base = new URL("node_modules/" + name + "/", document.baseURI).href;
    const manifest = JSON.parse(fetchText(base + "package.json"));
    const entry = typeof manifest.browser === "string" ? manifest.browser : manifest.main || "index.js";
    return resolveFile(new URL(entry, base).href);
  }

  function load(specifier, from) {
    const found = specifier.startsWith(".") || specifier.startsWith("/")
      ? resolveFile(new URL(specifier, from).href)
      : resolvePackage(specifier);
    if (cache.has(found.url)) return cache.get(found.url).exports;
    const module = { exports: {} };
    cache.set(found.url, module);
    const text = found.text ?? fetchText(found.url);
    const body = found.url.endsWith(".json") ? "module.exports = " + text : text;
    const run = new Function("module", "exports", "require", "process", body + "\n//# sourceURL=" + found.url);
    run(module, module.exports, (next) => load(next, found.url), { env: {}, browser: true });
    return module.exports;
  }

  window.require = (specifier) => load(specifier, document.baseURI);
})();
