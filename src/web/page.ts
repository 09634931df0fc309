// The page's HTML and CSS, as strings (so they travel in dist/ with the compiled code: tsc copies
// no other files). Plain, accessible HTML: every control has a label, results are announced
// through role="status" regions, tables have captions and header cells, and the layout works
// without the script apart from the forms themselves.

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nnlock: encrypted and tiered inference</title>
<link rel="stylesheet" href="/app/style.css">
<link rel="icon" href="data:,">
<script type="module" src="/app/app.js"></script>
</head>
<body>
<header>
  <h1>nnlock</h1>
  <p>Classify a photo without showing it: it is encrypted in this page with your cipher key, and only
  the ciphertext goes to the server. Or use a protected model at the tier your key unlocks.</p>
  <p id="page-status" role="status" aria-live="polite">Loading the list of models…</p>
</header>
<main>
<section aria-labelledby="enc-title">
  <h2 id="enc-title">Encrypted classification</h2>
  <p>Your cipher key file (<code>nnlock cipher keygen</code>) is read by this page and never leaves it.
  The photo is cropped and resized to the model's input, encrypted here, and only the ciphertext is sent.</p>
  <form id="enc-form">
    <label for="enc-model">Model</label>
    <select id="enc-model" name="model"></select>
    <label for="enc-photo">Photo</label>
    <input id="enc-photo" name="photo" type="file" accept="image/png,image/jpeg">
    <label for="enc-key">Cipher key file</label>
    <input id="enc-key" name="key" type="file" accept=".json,application/json" aria-describedby="enc-key-id">
    <span id="enc-key-id" class="hint"></span>
    <label for="enc-token">API key or tier token <span class="hint">(optional)</span></label>
    <input id="enc-token" name="token" type="password" autocomplete="off" spellcheck="false">
    <button type="submit">Encrypt and classify</button>
  </form>
  <div class="pair">
    <figure><canvas id="enc-plain" width="32" height="32" role="img" aria-label="the photo as the model sees it (stays in this page)"></canvas><figcaption>Plaintext (stays here)</figcaption></figure>
    <figure><canvas id="enc-cipher" width="32" height="32" role="img" aria-label="the ciphertext sent to the server"></canvas><figcaption>Ciphertext (sent)</figcaption></figure>
  </div>
  <p id="enc-status" role="status" aria-live="polite"></p>
  <div id="enc-result"></div>
</section>
<section aria-labelledby="tier-title">
  <h2 id="tier-title">Tiers</h2>
  <p>Paste a tier token or an API key (or leave it empty for the published model), choose a model and a
  photo, and send. Each answer is kept below: change the key and send again to see the tier change it.</p>
  <form id="tier-form">
    <label for="tier-model">Model</label>
    <select id="tier-model" name="model"></select>
    <label for="tier-token">Tier token or API key</label>
    <input id="tier-token" name="token" type="password" autocomplete="off" spellcheck="false" placeholder="empty: anonymous">
    <label for="tier-photo">Photo</label>
    <input id="tier-photo" name="photo" type="file" accept="image/png,image/jpeg">
    <div id="tier-sigma-row" class="row">
      <label for="tier-sigma">Noise σ added first (0..255 scale; empty: none)</label>
      <input id="tier-sigma" name="sigma" type="number" min="0" max="100" step="any" value="25">
    </div>
    <button type="submit">Send</button>
    <button type="button" id="tier-clear" class="secondary">Clear the answers</button>
  </form>
  <p id="tier-status" role="status" aria-live="polite"></p>
  <ol id="tier-history" class="history" role="list" aria-label="answers, newest first"></ol>
</section>
</main>
<footer><p>Served by <code>nnlock serve</code>. API: <code>GET /v1/models</code>, <code>POST /v1/models/NAME/classify</code>, <code>POST /v1/models/NAME/denoise</code>.</p></footer>
</body>
</html>
`;

export const PAGE_CSS = `:root { color-scheme: light dark; --accent: #2457a6; --bad: #b3261e; font-family: system-ui, sans-serif; line-height: 1.45; }
body { max-width: 60rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
h1 { margin-bottom: 0.2rem; }
section { border-top: 1px solid #8886; padding-top: 0.5rem; margin-top: 1.5rem; }
form { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 0.5rem 1rem; align-items: center; max-width: 44rem; }
form .row { display: contents; }
form .row[hidden] { display: none; }
form button { grid-column: 2; justify-self: start; padding: 0.4rem 1.1rem; }
form .secondary { background: none; }
.hint { color: #666; font-size: 0.9em; grid-column: 2; }
input, select, button { font: inherit; }
button[type="submit"] { background: var(--accent); color: white; border: 0; border-radius: 4px; cursor: pointer; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.pair { display: flex; gap: 2rem; flex-wrap: wrap; margin: 1rem 0; }
figure { margin: 0; }
canvas, .history img { width: 192px; height: 192px; image-rendering: pixelated; border: 1px solid #8888; background: #8882; }
figcaption { font-size: 0.9em; text-align: center; }
[role="status"][data-kind="error"] { color: var(--bad); font-weight: 600; }
table.top { border-collapse: collapse; margin: 0.5rem 0; min-width: 22rem; }
table.top caption { text-align: left; font-weight: 600; padding-bottom: 0.3rem; }
table.top th, table.top td { text-align: left; padding: 0.15rem 0.8rem 0.15rem 0; font-weight: normal; }
table.top thead th { font-weight: 600; border-bottom: 1px solid #8886; }
meter { width: 9rem; vertical-align: middle; }
.history { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.8rem 1.5rem; }
.history li { border: 1px solid #8886; border-radius: 6px; padding: 0.4rem 0.8rem; }
.history li:first-child { border-color: var(--accent); }
.history table.top { min-width: 16rem; }
`;
