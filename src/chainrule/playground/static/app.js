// chainrule playground page: plain JavaScript, no build step, no external files.
// The server owns the network; this page sends settings and draws what comes back.
// Drawing is on canvases, once per animation frame, from compact updates (numbers
// as float32/uint8 bytes), so the page keeps up with training and clicks stay quick.
"use strict";

const $ = (id) => document.getElementById(id);
const CLASS_RGB = [[232, 113, 10], [31, 119, 180], [44, 160, 44], [148, 103, 189], [214, 39, 40], [140, 86, 75]];
const POS = "#1f77b4", NEG = "#e8710a", POS_RGB = CLASS_RGB[1], NEG_RGB = CLASS_RGB[0];
const LR_VALUES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_VALUES = [0, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];

const state = {
  ws: null, options: null, defaults: null, limits: null,
  accepted: null, // the last configuration the server accepted: the controls show it
  running: false, pausing: false, data: null, last: null, pending: null,
  history: [], selected: null, hover: null, layout: null, walk: null,
  chain: null,
  stats: { draws: [], lastDrawMs: 0, epochs: [] },
};

// ---------------------------------------------------------------- settings <-> URL hash
// keys of the server's configuration, and the controls that show them
const FIELDS = ["dataset", "noise", "train_ratio", "activation", "init", "loss",
  "optimizer", "lr", "batch_size", "l1", "l2", "seed"];
const ELEMENT = { train_ratio: "train-ratio", batch_size: "batch-size" };
const el = (key) => $(ELEMENT[key] || key);
const VIEW = ["show_test", "discretize"]; // page-only switches, also kept in the URL

function hashFor(cfg) {
  const p = new URLSearchParams();
  for (const key of FIELDS) p.set(key, cfg[key]);
  p.set("hidden", cfg.hidden.join(","));
  p.set("features", cfg.features.join(","));
  if ($("show-test").checked) p.set("show_test", "1");
  if ($("discretize").checked) p.set("discretize", "1");
  return "#" + p.toString();
}

// only an accepted configuration is ever written to the address
function writeHash() {
  if (state.accepted) history.replaceState(null, "", hashFor(state.accepted));
}

function settingsFromHash() {
  const h = location.hash.replace(/^#/, "");
  const obj = {};
  if (!h) return obj;
  const p = new URLSearchParams(h);
  for (const key of FIELDS) if (p.has(key)) obj[key] = asNumber(p.get(key));
  if (p.has("hidden")) obj.hidden = p.get("hidden") === "" ? [] : p.get("hidden").split(",").map(asNumber);
  if (p.has("features")) obj.features = p.get("features") === "" ? [] : p.get("features").split(",");
  for (const key of VIEW) if (p.has(key)) $(key.replace("_", "-")).checked = p.get(key) === "1";
  return obj;
}

// numbers as numbers, anything else exactly as typed (the server says what is wrong with it)
function asNumber(v) {
  if (typeof v !== "string") return v;
  const t = v.trim();
  return t !== "" && !isNaN(Number(t)) ? Number(t) : v;
}

function taskOf(dataset) {
  if (dataset === "custom") return state.customTask || "classify";
  const d = state.options && state.options.dataset[dataset];
  return d ? d.task : "classify";
}

function fillSelect(id, values, label) {
  const s = $(id);
  s.innerHTML = "";
  for (const v of values) {
    const o = document.createElement("option");
    o.value = String(v); o.textContent = label ? label(v) : String(v).replace(/_/g, " ");
    s.appendChild(o);
  }
}

function setSelect(id, value, values) {
  // a value the server accepted but the list lacks (e.g. lr=0.05 from a link) joins the list
  const s = $(id);
  if (![...s.options].some((o) => o.value === String(value))) {
    const o = document.createElement("option");
    o.value = String(value); o.textContent = String(value);
    s.appendChild(o);
    if (values) {
      const sorted = [...s.options].sort((a, b) => Number(a.value) - Number(b.value));
      s.innerHTML = ""; sorted.forEach((x) => s.appendChild(x));
    }
  }
  s.value = String(value);
}

function fillDatasetOptions(problem) {
  const names = Object.keys(state.options.dataset).filter((n) => n !== "custom" && taskOf(n) === problem);
  if (state.customTask === problem) names.push("custom");
  fillSelect("dataset", names, (n) => (n === "custom" ? `your CSV (${state.customName})` : n));
}

// the controls show an accepted configuration (never an invalid value)
function showConfig(cfg) {
  const problem = taskOf(cfg.dataset);
  $("problem").value = problem;
  fillDatasetOptions(problem);
  $("dataset").value = cfg.dataset;
  fillSelect("loss", state.options.loss[problem]);
  for (const key of FIELDS) {
    if (key === "dataset") continue;
    if (["lr", "l1", "l2"].includes(key)) setSelect(key, cfg[key], true);
    else el(key).value = cfg[key];
  }
  $("noise-value").textContent = cfg.noise;
  $("train-ratio-value").textContent = cfg.train_ratio;
  drawLayerEditor(cfg.hidden);
  drawFeatureBoxes(cfg);
}

function drawFeatureBoxes(cfg) {
  const box = $("feature-boxes"), dim = state.data ? state.data.dim : 2;
  const names = state.options.features[String(dim)];
  box.innerHTML = "";
  for (const name of names) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox"; input.dataset.feature = name; input.checked = cfg.features.includes(name);
    input.addEventListener("change", () => {
      // in the order the page lists them: that is the order of the model's input columns
      const features = [...box.querySelectorAll("input")].filter((i) => i.checked).map((i) => i.dataset.feature);
      sendConfig({ features });
    });
    label.appendChild(input);
    label.appendChild(document.createTextNode(prettyFeature(name)));
    box.appendChild(label);
  }
}

function drawLayerEditor(hidden) {
  const box = $("layer-editor");
  box.innerHTML = "";
  hidden.forEach((units, k) => {
    const label = document.createElement("label");
    label.textContent = `layer ${k + 1}`;
    const input = document.createElement("input");
    input.type = "text"; input.inputMode = "numeric"; input.size = 3;
    input.value = units; input.className = "units"; input.dataset.layer = k;
    input.addEventListener("change", () => {
      const h = state.accepted.hidden.slice();
      h[k] = asNumber(input.value);
      sendConfig({ hidden: h });
    });
    label.appendChild(input);
    box.appendChild(label);
  });
}

// feature names as the server knows them ("x1^2") -> as they are shown ("x1²")
function prettyFeature(name) {
  return name.replace("^2", "²").replace("^3", "³").replace("*", "·").replace(/^sin\((.*)\)$/, "sin $1");
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

// a change of settings: the accepted configuration with these keys changed
function sendConfig(changes) {
  const cfg = Object.assign({ type: "config" }, state.accepted || state.defaults, changes);
  if (changes.dataset !== undefined && state.accepted && changes.features === undefined) {
    const dimOld = state.accepted.dataset === "sin" ? 1 : 2, dimNew = changes.dataset === "sin" ? 1 : 2;
    if (dimOld !== dimNew || changes.dataset === "custom") cfg.features = "auto";
  }
  state.sent = cfg;
  send(cfg);
}

function setRunning(running) {
  state.running = running;
  if (!running) state.pausing = false;
  $("play").innerHTML = running ? "&#10074;&#10074; Pause" : "&#9654; Play";
}

function showError(message) {
  const e = $("error");
  if (message) { e.textContent = message; e.hidden = false; } else { e.hidden = true; e.textContent = ""; }
}

function wireControls() {
  for (const key of FIELDS) {
    el(key).addEventListener("change", () => {
      const raw = el(key).value;
      const value = ["dataset", "activation", "init", "loss", "optimizer"].includes(key) ? raw : asNumber(raw);
      sendConfig({ [key]: value });
    });
  }
  $("problem").addEventListener("change", () => {
    const problem = $("problem").value;
    const first = Object.keys(state.options.dataset).find((n) => n !== "custom" && taskOf(n) === problem);
    sendConfig({ dataset: first, loss: "auto" });
  });
  $("noise").addEventListener("input", () => { $("noise-value").textContent = $("noise").value; });
  $("train-ratio").addEventListener("input", () => { $("train-ratio-value").textContent = $("train-ratio").value; });
  $("add-layer").addEventListener("click", () => {
    const h = state.accepted.hidden.slice();
    if (h.length >= state.limits.layers) { showError(`at most ${state.limits.layers} hidden layers`); return; }
    h.push(h.length ? h[h.length - 1] : 4);
    sendConfig({ hidden: h });
  });
  $("remove-layer").addEventListener("click", () => {
    sendConfig({ hidden: state.accepted.hidden.slice(0, -1) });
  });
  $("play").addEventListener("click", () => {
    if (state.running) { $("play").textContent = "pausing…"; state.pausing = true; } // until the server confirms
    send({ type: state.running ? "pause" : "play" });
  });
  $("step").addEventListener("click", () => send({ type: "step" }));
  $("walk").addEventListener("click", () => send({ type: "walk" }));
  $("reset").addEventListener("click", () => send({ type: "reset" }));
  $("export").addEventListener("click", () => send({ type: "export" }));
  for (const id of ["show-test", "discretize"]) {
    $(id).addEventListener("change", () => { writeHash(); redraw(); });
  }
  $("csv").addEventListener("change", async () => {
    const file = $("csv").files[0];
    if (!file) return;
    if (file.size > 200 * 1024) {
      showError(`${file.name} is ${(file.size / 1024).toFixed(0)} KiB; the playground takes CSV files up to 200 KiB`);
      $("csv").value = "";
      return;
    }
    state.customName = file.name;
    send({ type: "upload", csv: await file.text(), problem: $("problem").value, name: file.name });
    $("csv").value = "";
  });
  $("editor-set").addEventListener("click", setSelectedValue);
  $("editor-value").addEventListener("keydown", (e) => { if (e.key === "Enter") setSelectedValue(); });
  window.addEventListener("hashchange", () => {
    if (!state.options) return;
    const want = settingsFromHash();
    if (state.accepted && location.hash === hashFor(state.accepted)) return;
    sendConfig(want);
  });
  window.addEventListener("resize", () => { state.layout = null; redraw(); });
  const net = $("network");
  net.addEventListener("click", (e) => onNetworkClick(e.offsetX, e.offsetY));
  net.addEventListener("mousemove", (e) => onNetworkHover(e.offsetX, e.offsetY));
  net.addEventListener("mouseleave", () => { state.hover = null; $("zoom").hidden = true; drawNetwork(); });
}

function setSelectedValue() {
  const s = state.selected;
  if (!s) return;
  send({ type: "set", kind: s.kind, layer: s.layer, i: s.i, j: s.j, value: asNumber($("editor-value").value) });
}

// ---------------------------------------------------------------- decoding
function bytes(b64) {
  const s = atob(b64), out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
const f32 = (b64) => new Float32Array(bytes(b64).buffer);
const i8 = (b64) => new Int8Array(bytes(b64).buffer);

// the flat float32 parameters -> [{W (in*out, row-major), b, nIn, nOut}]
function splitParams(flat, widths) {
  const out = [];
  let p = 0;
  for (let k = 0; k + 1 < widths.length; k++) {
    const a = widths[k], b = widths[k + 1];
    out.push({ W: flat.subarray(p, p + a * b), b: flat.subarray(p + a * b, p + a * b + b), nIn: a, nOut: b });
    p += a * b + b;
  }
  return out;
}

function maps(m) {
  if (!m || !m.q) return null;
  return { size: m.size, q: i8(m.q), scale: m.scale };
}

// ---------------------------------------------------------------- drawing helpers
function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (x === 0) return "0";
  return Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? x.toFixed(3) : x.toExponential(2);
}
const pct = (v) => (v === null || v === undefined ? "" : (100 * v).toFixed(1) + "%");

function sizeCanvas(c, cssWidth, cssHeight) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.round(cssWidth * dpr), h = Math.round(cssHeight * dpr);
  if (c.width !== w || c.height !== h) { c.width = w; c.height = h; c.style.width = cssWidth + "px"; c.style.height = cssHeight + "px"; }
  const g = c.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  return g;
}

// a small image of one map (size x size values scaled -127..127), into an ImageData
const scratch = document.createElement("canvas");
function mapImage(q, offset, size, discrete) {
  scratch.width = size; scratch.height = size;
  const g = scratch.getContext("2d"), img = g.createImageData(size, size), d = img.data;
  for (let p = 0; p < size * size; p++) {
    let t = q[offset + p] / 127;
    if (discrete) t = t >= 0 ? 1 : -1;
    const col = t >= 0 ? POS_RGB : NEG_RGB, a = Math.min(1, Math.abs(t));
    d[p * 4] = 255 + (col[0] - 255) * a; d[p * 4 + 1] = 255 + (col[1] - 255) * a;
    d[p * 4 + 2] = 255 + (col[2] - 255) * a; d[p * 4 + 3] = 255;
  }
  g.putImageData(img, 0, 0);
  return scratch;
}

// the output over the plane as an image, from the update (probabilities or values)
const outCanvas = document.createElement("canvas");
function outputImage(u, discrete) {
  const o = u.output;
  if (!o || o.kind === "curve") return null;
  const n = o.size;
  outCanvas.width = n; outCanvas.height = n;
  const g = outCanvas.getContext("2d"), img = g.createImageData(n, n), d = img.data;
  if (o.kind === "proba") {
    if (!o._p) o._p = bytes(o.p);
    const P = o._p, k = o.k;
    for (let p = 0; p < n * n; p++) {
      let r = 0, gr = 0, bl = 0;
      if (k === 2) {
        const q = P[p] / 255, cls = q > 0.5 ? 1 : 0, col = CLASS_RGB[cls];
        const t = discrete ? 0.75 : Math.abs(q - 0.5) * 2 * 0.75;
        r = 255 + (col[0] - 255) * t; gr = 255 + (col[1] - 255) * t; bl = 255 + (col[2] - 255) * t;
      } else {
        let best = 0;
        for (let j = 1; j < k; j++) if (P[p * k + j] > P[p * k + best]) best = j;
        for (let j = 0; j < k; j++) {
          const q = discrete ? (j === best ? 1 : 0) : P[p * k + j] / 255, col = CLASS_RGB[j % CLASS_RGB.length];
          r += q * col[0]; gr += q * col[1]; bl += q * col[2];
        }
        r = 255 + (r - 255) * 0.6; gr = 255 + (gr - 255) * 0.6; bl = 255 + (bl - 255) * 0.6;
      }
      d[p * 4] = r; d[p * 4 + 1] = gr; d[p * 4 + 2] = bl; d[p * 4 + 3] = 255;
    }
  } else {
    if (!o._y) o._y = f32(o.y);
    const Y = o._y, [lo, hi] = o.range || [-1, 1], top = Math.max(Math.abs(lo), Math.abs(hi), 1e-9);
    for (let p = 0; p < n * n; p++) {
      let t = Y[p] / top;
      if (discrete) t = t >= 0 ? 1 : -1;
      const col = t >= 0 ? POS_RGB : NEG_RGB, a = Math.min(1, Math.abs(t)) * 0.8;
      d[p * 4] = 255 + (col[0] - 255) * a; d[p * 4 + 1] = 255 + (col[1] - 255) * a;
      d[p * 4 + 2] = 255 + (col[2] - 255) * a; d[p * 4 + 3] = 255;
    }
  }
  g.putImageData(img, 0, 0);
  return outCanvas;
}

// ---------------------------------------------------------------- the output panel
function drawBoundary(u) {
  const c = $("boundary"), d = state.data;
  const width = Math.min(320, c.parentElement.clientWidth - 4 || 320);
  const g = sizeCanvas(c, width, width);
  g.clearRect(0, 0, width, width);
  if (!d) return;
  const discrete = $("discretize").checked, showTest = $("show-test").checked;
  if (d.dim === 1) { drawCurve(g, width, u, showTest); return; }
  const img = u && outputImage(u, discrete);
  if (img) { g.imageSmoothingEnabled = !discrete; g.drawImage(img, 0, 0, width, width); }
  const [x0, x1, y0, y1] = d.extent;
  const map = (x, y) => [(x - x0) / (x1 - x0) * width, (y1 - y) / (y1 - y0) * width];
  const top = d.y_range ? Math.max(Math.abs(d.y_range[0]), Math.abs(d.y_range[1]), 1e-9) : 1;
  const colour = (v) => {
    if (d.task === "classify") return CLASS_RGB[v % CLASS_RGB.length];
    const t = Math.max(-1, Math.min(1, v / top)), col = t >= 0 ? POS_RGB : NEG_RGB, a = Math.abs(t);
    return col.map((c) => 255 + (c - 255) * a);
  };
  const dots = (X, y, stroke) => {
    for (let i = 0; i < X.length; i++) {
      const [px, py] = map(X[i][0], X[i][1]), col = colour(y[i]);
      g.beginPath(); g.arc(px, py, 3.2, 0, 2 * Math.PI);
      g.fillStyle = `rgb(${col[0] | 0},${col[1] | 0},${col[2] | 0})`; g.fill();
      g.lineWidth = 1; g.strokeStyle = stroke; g.stroke();
    }
  };
  dots(d.X_train, d.y_train, "#fff");
  if (showTest) dots(d.X_test, d.y_test, "#000");
}

function drawCurve(g, width, u, showTest) {
  const d = state.data;
  const ys = d.y_train.concat(showTest ? d.y_test : []);
  let lo = Math.min(...ys), hi = Math.max(...ys);
  const curve = u && u.output && u.output.kind === "curve" ? (u.output._y || (u.output._y = f32(u.output.y))) : null;
  if (curve) for (const v of curve) { if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }
  const pad = 0.1 * (hi - lo || 1);
  lo -= pad; hi += pad;
  const [x0, x1] = d.extent;
  const map = (x, y) => [(x - x0) / (x1 - x0) * width, (hi - y) / (hi - lo) * width];
  g.fillStyle = "#fff"; g.fillRect(0, 0, width, width);
  const dots = (X, y, col) => {
    g.fillStyle = col;
    for (let i = 0; i < X.length; i++) {
      const [px, py] = map(X[i][0], y[i]);
      g.beginPath(); g.arc(px, py, 2.5, 0, 2 * Math.PI); g.fill();
    }
  };
  dots(d.X_train, d.y_train, POS);
  if (showTest) dots(d.X_test, d.y_test, "#999");
  if (curve) {
    g.beginPath(); g.strokeStyle = NEG; g.lineWidth = 2.5;
    const o = u.output, n = curve.length;
    for (let i = 0; i < n; i++) {
      const [px, py] = map(o.x0 + (o.x1 - o.x0) * i / (n - 1), curve[i]);
      if (i === 0) g.moveTo(px, py); else g.lineTo(px, py);
    }
    g.stroke();
  }
}

function niceTicks(top) {
  const step = Math.pow(10, Math.floor(Math.log10(top)));
  const n = top / step;
  const s = n > 5 ? step * 2 : n > 2 ? step : step / 2;
  const out = [];
  for (let v = 0; v <= top + 1e-12; v += s) out.push(v);
  return out;
}

function drawLossCurve() {
  const c = $("loss-curve");
  const width = Math.min(320, c.parentElement.clientWidth - 4 || 320), height = 130;
  const g = sizeCanvas(c, width, height);
  g.clearRect(0, 0, width, height);
  const h = state.history;
  const L = 40, R = 8, T = 8, B = 18; // room for the axes' numbers
  g.font = "10px system-ui, sans-serif"; g.fillStyle = "#555"; g.strokeStyle = "#ccc"; g.lineWidth = 1;
  g.beginPath(); g.moveTo(L, T); g.lineTo(L, height - B); g.lineTo(width - R, height - B); g.stroke();
  if (h.length < 1) return;
  const vals = h.flatMap((p) => [p.train, p.test]).filter((v) => v !== null && Number.isFinite(v));
  const top = Math.max(...vals, 1e-9) * 1.05, e0 = h[0].epoch, e1 = Math.max(h[h.length - 1].epoch, e0 + 1);
  const X = (e) => L + (e - e0) / (e1 - e0) * (width - L - R);
  const Y = (v) => height - B - v / top * (height - B - T);
  g.textAlign = "right"; g.textBaseline = "middle";
  for (const v of niceTicks(top)) {
    g.fillText(v < 0.01 && v > 0 ? v.toExponential(0) : String(+v.toPrecision(3)), L - 4, Y(v));
    g.strokeStyle = "#eee"; g.beginPath(); g.moveTo(L + 1, Y(v)); g.lineTo(width - R, Y(v)); g.stroke();
  }
  g.textAlign = "center"; g.textBaseline = "top";
  g.fillText(String(e0), L + 6, height - B + 3);
  g.fillText(`epoch ${h[h.length - 1].epoch}`, width - R - 26, height - B + 3);
  const line = (key, col, lw) => {
    g.beginPath(); g.strokeStyle = col; g.lineWidth = lw;
    let started = false;
    for (const p of h) {
      const v = p[key];
      if (v === null || !Number.isFinite(v)) continue;
      if (!started) { g.moveTo(X(p.epoch), Y(v)); started = true; } else g.lineTo(X(p.epoch), Y(v));
    }
    g.stroke();
  };
  line("train", "#999", 1.5);
  line("test", "#111", 2);
}

// ---------------------------------------------------------------- the network canvas
// Columns alternate a slight slant, so that no two edges between the same two layers
// share a midpoint: every edge can be clicked at its middle.
function layoutNetwork(widths) {
  const c = $("network");
  const W = Math.max(280, Math.min(620, c.parentElement.clientWidth - 2 || 520));
  const maxN = Math.max(...widths);
  const H = Math.max(240, Math.min(420, 36 + maxN * 30));
  const left = 70, right = 66, top = 26, bottom = 12;
  const cols = widths.length;
  const colX = (k) => left + k * (W - left - right) / Math.max(cols - 1, 1);
  const nodes = widths.map((n, k) => {
    const gap = Math.min(32, (H - top - bottom) / Math.max(n, 1));
    const size = Math.max(3, Math.min(24, gap - 5));
    // (a whole column leans at most 24 px: wide layers stand nearly upright)
    const slant = (k % 2 === 0 ? 1 : -1) * Math.min(6, gap * 0.22, 24 / Math.max(n - 1, 1));
    const mid = top + (H - top - bottom) / 2;
    const out = [];
    for (let i = 0; i < n; i++) {
      const a = i - (n - 1) / 2;
      out.push({ x: colX(k) + slant * a, y: mid + a * gap, size });
    }
    return out;
  });
  return { W, H, widths, nodes, colX, key: widths.join(",") + "@" + W };
}

function edgeList(layout, params) {
  // every edge: layer k, from i to j, with its end points and midpoint
  const edges = [];
  params.forEach((p, k) => {
    const A = layout.nodes[k], B = layout.nodes[k + 1];
    for (let i = 0; i < p.nIn; i++) for (let j = 0; j < p.nOut; j++) {
      const a = A[i], b = B[j];
      edges.push({ k, i, j, x1: a.x, y1: a.y, x2: b.x, y2: b.y, mx: (a.x + b.x) / 2, my: (a.y + b.y) / 2 });
    }
  });
  return edges;
}

const MAX_EDGES = 1500; // per pair of layers: wider ones draw only their strongest edges

// the |w| above which about `keep` of the values lie: a 256-bin histogram, no sorting
function strongestCut(W, keep) {
  let top = 0;
  for (let q = 0; q < W.length; q++) { const a = Math.abs(W[q]); if (a > top) top = a; }
  if (top === 0) return 0;
  const bins = new Uint32Array(256), scale = 255.999 / top;
  for (let q = 0; q < W.length; q++) bins[(Math.abs(W[q]) * scale) | 0]++;
  let count = 0;
  for (let b = 255; b >= 0; b--) { count += bins[b]; if (count >= keep) return b / scale; }
  return 0;
}

function drawNetwork() {
  const u = state.last;
  if (!u) return;
  const widths = u.widths, params = u._params || (u._params = splitParams(f32(u.params), widths));
  let lay = state.layout;
  const c = $("network");
  if (!lay || lay.key !== widths.join(",") + "@" + Math.max(280, Math.min(620, c.parentElement.clientWidth - 2 || 520))) {
    lay = state.layout = layoutNetwork(widths);
    state.edges = null;
  }
  const g = sizeCanvas(c, lay.W, lay.H);
  g.clearRect(0, 0, lay.W, lay.H);
  let maxAbs = 1e-9;
  for (const p of params) for (let q = 0; q < p.W.length; q++) maxAbs = Math.max(maxAbs, Math.abs(p.W[q]));
  const walk = !state.running && state.walk ? state.walk : null;
  const edgeValues = walk && walk.phase !== "forward" ? (walk._e || (walk._e = f32(walk.phase === "backward" ? walk.edge_grads : walk.edge_deltas))) : null;
  let edgeMax = 1e-12;
  if (edgeValues) for (const v of edgeValues) edgeMax = Math.max(edgeMax, Math.abs(v));
  // edges, in buckets of colour and width: a few strokes however many edges there are
  const BUCKETS = 6;
  let offset = 0;
  params.forEach((p, k) => {
    const A = lay.nodes[k], B = lay.nodes[k + 1], n = p.nIn * p.nOut;
    const dense = n > 256; // wide layers: thinner, fainter edges, and only the strongest ones
    let cut = 0;
    if (n > MAX_EDGES) cut = strongestCut(p.W, MAX_EDGES);
    const paths = [];
    for (let s = 0; s < 2 * BUCKETS; s++) paths.push(new Path2D());
    for (let i = 0; i < p.nIn; i++) for (let j = 0; j < p.nOut; j++) {
      const v = edgeValues ? edgeValues[offset + i * p.nOut + j] : p.W[i * p.nOut + j];
      const m = Math.abs(v) / (edgeValues ? edgeMax : maxAbs);
      if (!edgeValues && Math.abs(v) < cut) continue;
      const bucket = Math.min(BUCKETS - 1, Math.floor(m * BUCKETS));
      const path = paths[(v >= 0 ? 0 : BUCKETS) + bucket];
      path.moveTo(A[i].x, A[i].y); path.lineTo(B[j].x, B[j].y);
    }
    for (let s = 0; s < 2 * BUCKETS; s++) {
      const b = s % BUCKETS, m = (b + 0.5) / BUCKETS;
      g.strokeStyle = s < BUCKETS ? POS : NEG;
      g.lineWidth = dense ? 0.4 + 0.6 * m : 0.8 + 4.5 * m;
      g.globalAlpha = dense ? 0.15 + 0.5 * m : 0.35 + 0.55 * m;
      g.stroke(paths[s]);
    }
    offset += n;
  });
  g.globalAlpha = 1;
  // the hovered and the selected edge or node, on top
  const mark = (s, colour, lw) => {
    if (!s || s.layer >= params.length) return;
    if (s.kind === "weight") {
      const a = lay.nodes[s.layer][s.i], b = lay.nodes[s.layer + 1][s.j];
      if (!a || !b) return;
      g.strokeStyle = colour; g.lineWidth = lw; g.beginPath(); g.moveTo(a.x, a.y); g.lineTo(b.x, b.y); g.stroke();
    } else {
      const a = lay.nodes[s.layer + 1][s.j];
      if (!a) return;
      g.strokeStyle = colour; g.lineWidth = 2.5; g.strokeRect(a.x - a.size / 2 - 3, a.y - a.size / 2 - 3, a.size + 6, a.size + 6);
    }
  };
  mark(state.hover && state.hover.kind ? state.hover : null, "rgba(0,0,0,0.45)", 3);
  mark(state.selected, "#111", 3.5);
  const sel = state.selected;
  if (edgeValues && sel && sel.kind === "weight" && sel.layer < params.length) {
    // step mode: the selected edge's number (its gradient, or how far it moved)
    let at = 0;
    for (let k = 0; k < sel.layer; k++) at += params[k].nIn * params[k].nOut;
    const v = edgeValues[at + sel.i * params[sel.layer].nOut + sel.j];
    const a = lay.nodes[sel.layer][sel.i], b = lay.nodes[sel.layer + 1][sel.j];
    const text = (walk.phase === "backward" ? "dL/dW " : "ΔW ") + (+v).toPrecision(3);
    g.font = "bold 11px system-ui, sans-serif";
    const w = g.measureText(text).width + 6, x = (a.x + b.x) / 2 - w / 2, y = (a.y + b.y) / 2 - 18;
    g.fillStyle = "rgba(255,255,255,0.92)"; g.fillRect(x, y, w, 14);
    g.fillStyle = "#111"; g.textAlign = "left"; g.textBaseline = "middle"; g.fillText(text, x + 3, y + 7);
  }
  // nodes: each one's own output over the input plane, and its bias
  const unitMaps = u._maps !== undefined ? u._maps : (u._maps = maps(u.unit_maps));
  const featureMaps = state.data && state.data._fmaps;
  const discrete = $("discretize").checked;
  const last = widths.length - 1;
  let unit = 0, maxB = 1e-9;
  for (const p of params) for (const v of p.b) maxB = Math.max(maxB, Math.abs(v));
  g.font = "10px system-ui, sans-serif"; g.textBaseline = "middle";
  widths.forEach((n, k) => {
    for (let i = 0; i < n; i++) {
      const node = lay.nodes[k][i], s = node.size, x = node.x - s / 2, y = node.y - s / 2;
      let img = null;
      if (k === 0 && featureMaps) img = mapImage(featureMaps.q, i * featureMaps.size ** 2, featureMaps.size, false);
      else if (k > 0 && k < last && unitMaps) img = mapImage(unitMaps.q, unit * unitMaps.size ** 2, unitMaps.size, discrete);
      else if (k === last && n === 1 && state.data && state.data.dim === 2) img = outputImage(u, discrete);
      if (img && s >= 6) {
        g.imageSmoothingEnabled = false;
        g.drawImage(img, x, y, s, s);
        g.strokeStyle = "#555"; g.lineWidth = 1; g.strokeRect(x, y, s, s);
      } else {
        g.fillStyle = k === last && state.data && state.data.task === "classify" ? rgb(CLASS_RGB[i % CLASS_RGB.length]) : "#fff";
        g.strokeStyle = "#555"; g.lineWidth = 1;
        g.beginPath(); g.arc(node.x, node.y, Math.max(2, s / 2), 0, 2 * Math.PI); g.fill(); g.stroke();
      }
      if (k > 0) {
        // the bias: a small square at the node's lower left, coloured by sign and size
        const b = params[k - 1].b[i], t = Math.abs(b) / maxB, bs = Math.max(3, Math.min(7, s / 3));
        const col = b >= 0 ? POS_RGB : NEG_RGB;
        g.fillStyle = `rgb(${255 + (col[0] - 255) * t | 0},${255 + (col[1] - 255) * t | 0},${255 + (col[2] - 255) * t | 0})`;
        g.fillRect(x - bs / 2, y + s - bs / 2, bs, bs);
        g.strokeStyle = "#333"; g.strokeRect(x - bs / 2, y + s - bs / 2, bs, bs);
        if (k < last) unit++;
      }
      if (k === 0) {
        g.fillStyle = "#222"; g.textAlign = "right";
        g.fillText(prettyFeature((state.accepted && state.accepted.features[i]) || `x${i + 1}`), x - 4, node.y);
      }
      if (walk) drawWalkNode(g, walk, k, i, node);
    }
    g.fillStyle = "#555"; g.textAlign = "center";
    const label = k === 0 ? "input" : k === last ? "output" : `${n} ${state.accepted ? state.accepted.activation : ""}`;
    g.fillText(label, lay.colX(k), 10);
  });
}

const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;

function drawWalkNode(g, walk, k, i, node) {
  let v = null;
  if (walk.phase === "forward") v = walk.nodes[k] && walk.nodes[k][i];
  else if (k > 0) v = walk.node_grads && walk.node_grads[k] && walk.node_grads[k][i];
  if (v === null || v === undefined) return;
  const text = (+v).toPrecision(3);
  g.font = "bold 10px system-ui, sans-serif"; g.textAlign = "left";
  const w = g.measureText(text).width + 4, x = node.x + node.size / 2 + 2, y = node.y - 7;
  g.fillStyle = walk.phase === "forward" ? "rgba(255,255,210,0.95)" : "rgba(230,240,255,0.95)";
  g.fillRect(x, y, w, 13);
  g.fillStyle = "#111"; g.fillText(text, x + 2, y + 7);
  g.font = "10px system-ui, sans-serif";
}

// which edge (or node, for its bias) is at (x, y): an edge midpoint wins, then the
// nearest stroke within a few pixels
function hitTest(x, y) {
  const u = state.last, lay = state.layout;
  if (!u || !lay) return null;
  const params = u._params;
  for (let k = 1; k < lay.nodes.length; k++) {
    for (let j = 0; j < lay.nodes[k].length; j++) {
      const n = lay.nodes[k][j], r = Math.max(n.size / 2 + 2, 5);
      if (Math.abs(x - n.x) <= r && Math.abs(y - n.y) <= r) return { kind: "bias", layer: k - 1, i: null, j };
    }
  }
  if (!state.edges) state.edges = edgeList(lay, params);
  let best = null, bestScore = Infinity;
  for (const e of state.edges) {
    const dx = e.x2 - e.x1, dy = e.y2 - e.y1, len2 = dx * dx + dy * dy || 1;
    const t = Math.max(0, Math.min(1, ((x - e.x1) * dx + (y - e.y1) * dy) / len2));
    const d = Math.hypot(x - (e.x1 + t * dx), y - (e.y1 + t * dy));
    if (d > 6) continue;
    const score = d + 0.25 * Math.hypot(x - e.mx, y - e.my);
    if (score < bestScore) { bestScore = score; best = e; }
  }
  return best ? { kind: "weight", layer: best.k, i: best.i, j: best.j } : null;
}

function onNetworkClick(x, y) {
  const hit = hitTest(x, y);
  if (!hit) return;
  state.selected = hit;
  drawNetwork(); // highlighted at once, playing or paused
  showSelected(null);
  send(Object.assign({ type: "select" }, hit));
}

function onNetworkHover(x, y) {
  const hit = hitTest(x, y);
  const same = JSON.stringify(hit) === JSON.stringify(state.hover);
  state.hover = hit;
  $("network").style.cursor = hit ? "pointer" : "default";
  // a node under the pointer: its map, enlarged
  const lay = state.layout;
  let node = null;
  if (lay) {
    for (let k = 0; k < lay.nodes.length && !node; k++) {
      lay.nodes[k].forEach((n, i) => {
        if (Math.abs(x - n.x) <= n.size / 2 + 2 && Math.abs(y - n.y) <= n.size / 2 + 2) node = { k, i, n };
      });
    }
  }
  state.zoom = node;
  drawZoom();
  if (!same) drawNetwork();
}

function drawZoom() {
  const z = $("zoom"), node = state.zoom, u = state.last;
  if (!node || !u) { z.hidden = true; return; }
  const last = u.widths.length - 1, discrete = $("discretize").checked;
  let img = null;
  if (node.k === 0 && state.data && state.data._fmaps) {
    const m = state.data._fmaps; img = mapImage(m.q, node.i * m.size ** 2, m.size, false);
  } else if (node.k > 0 && node.k < last && u._maps) {
    let unit = 0;
    for (let k = 1; k < node.k; k++) unit += u.widths[k];
    unit += node.i;
    img = mapImage(u._maps.q, unit * u._maps.size ** 2, u._maps.size, discrete);
  } else if (node.k === last) img = outputImage(u, discrete);
  if (!img) { z.hidden = true; return; }
  const g = z.getContext("2d");
  g.imageSmoothingEnabled = !discrete;
  g.clearRect(0, 0, z.width, z.height);
  g.drawImage(img, 0, 0, z.width, z.height);
  z.style.left = Math.min(node.n.x + 16, state.layout.W - z.width) + "px";
  z.style.top = Math.max(0, node.n.y - z.height / 2) + "px";
  z.hidden = false;
}

// ---------------------------------------------------------------- the insight panel
function drawDiagnosis(diag) {
  if (!diag) return;
  const body = $("layer-table").querySelector("tbody");
  const rows = diag.layers;
  while (body.rows.length > rows.length) body.deleteRow(-1);
  const p = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(0) + "%");
  rows.forEach((l, r) => {
    const tr = body.rows[r] || body.insertRow();
    const cells = [l.index, l.activation || "none", l.units ?? "–", fmt(l.grad_norm), p(l.dead_fraction), p(l.saturation)];
    cells.forEach((text, c) => { (tr.cells[c] || tr.insertCell()).textContent = text; });
  });
  const ul = $("verdicts");
  ul.innerHTML = "";
  if (!diag.verdicts.some((v) => v.severity === "problem")) {
    const li = document.createElement("li"); li.className = "ok";
    li.textContent = "No problems found" + (diag.verdicts.length ? " (notes below)." : ".");
    ul.appendChild(li);
  }
  // the library's verdict records, one line per kind; a remedy the page has a control for
  // is a button that changes that control, the others are words
  for (const v of diag.verdicts) {
    const li = document.createElement("li");
    li.className = v.severity; li.dataset.kind = v.kind;
    const text = document.createElement("span");
    text.textContent = v.text; text.title = v.detail.join("\n");
    li.appendChild(text);
    for (const r of v.remedies) {
      if (r.have) continue; // the page's settings are this remedy already
      if (r.set) {
        const b = document.createElement("button");
        b.className = "remedy"; b.textContent = r.label; b.title = r.why;
        b.dataset.remedy = r.name; b.dataset.set = JSON.stringify(r.set);
        b.addEventListener("click", () => sendConfig(r.set));
        li.appendChild(b);
      } else {
        const t = document.createElement("span");
        t.className = "remedy-text"; t.textContent = r.label; t.title = r.why;
        li.appendChild(t);
      }
    }
    ul.appendChild(li);
  }
}

function showSelected(chain) {
  const s = state.selected;
  if (!s) return;
  const name = s.kind === "weight" ? `W${s.layer + 1}[${s.i},${s.j}]` : `b${s.layer + 1}[${s.j}]`;
  $("editor").hidden = false;
  $("editor-name").textContent = name;
  if (!chain) {
    $("chain-title").textContent = `Chain rule of ${name}`;
    $("chain").textContent = "tracing…";
    const p = state.last && state.last._params && state.last._params[s.layer];
    if (p && document.activeElement !== $("editor-value")) {
      $("editor-value").value = s.kind === "weight" ? (+p.W[s.i * p.nOut + s.j]).toPrecision(4) : (+p.b[s.j]).toPrecision(4);
    }
    return;
  }
  $("chain-title").textContent = `Chain rule of ${name} at epoch ${chain.epoch}`;
  if (document.activeElement !== $("editor-value")) $("editor-value").value = (+chain.value).toPrecision(4);
  const grad = chain.grad === null || chain.grad === undefined ? "–" : (+chain.grad).toPrecision(4);
  $("chain").textContent = `${name} = ${(+chain.value).toPrecision(4)},  ${chain.name} = ${grad}   (epoch ${chain.epoch})\n\n${chain.text}`;
}

function onChain(m) {
  const s = state.selected;
  if (!s || s.kind !== m.kind || s.layer !== m.layer || s.j !== m.j || (s.kind === "weight" && s.i !== m.i)) return;
  state.chain = m;
  showSelected(m);
}

// ---------------------------------------------------------------- updates and drawing
function onUpdate(u) {
  if (!u.running && state.running) setRunning(false);
  if (state.pausing && u.running) return; // Pause was clicked: the page waits for its answer
  state.pending = u;
  // drawn at once (the browser paints it at its next frame); the server sends at most
  // 60 updates a second and only after the last one was acknowledged
  drawPending();
}

function drawPending() {
  const u = state.pending;
  if (!u) return;
  state.pending = null;
  send({ type: "ack" }); // the server prepares the next update while this one is drawn
  const t0 = performance.now();
  state.last = u;
  if (u.running || state.running) state.walk = null;
  $("epoch").textContent = u.epoch;
  $("train-loss").textContent = fmt(u.train_loss);
  $("test-loss").textContent = fmt(u.test_loss);
  $("train-acc").textContent = u.train_acc === null ? "" : `accuracy ${pct(u.train_acc)}`;
  $("test-acc").textContent = u.test_acc === null ? "" : `accuracy ${pct(u.test_acc)}`;
  const h = state.history;
  if (h.length && h[h.length - 1].epoch > u.epoch) h.length = 0;
  if (h.length && h[h.length - 1].epoch === u.epoch) h.pop();
  h.push({ epoch: u.epoch, train: u.train_loss, test: u.test_loss });
  if (h.length > 600) state.history = h.filter((_, i) => i % 2 === 0 || i === h.length - 1);
  drawBoundary(u);
  drawLossCurve();
  drawNetwork();
  if (state.zoom) drawZoom();
  if (u.diagnosis) drawDiagnosis(u.diagnosis);
  if (u.chain) onChain(u.chain);
  const now = performance.now();
  const st = state.stats;
  st.lastDrawMs = now - t0;
  st.draws.push(now);
  st.epochs.push([now, u.epoch]);
  while (st.draws.length && st.draws[0] < now - 1000) st.draws.shift();
  while (st.epochs.length > 2 && st.epochs[0][0] < now - 1000) st.epochs.shift();
}

function redraw() {
  if (state.last) { drawBoundary(state.last); drawNetwork(); drawLossCurve(); }
}

// the page's own measure of how smoothly it runs (for people and for tests)
window.playgroundStats = () => {
  const st = state.stats, now = performance.now();
  const recent = st.draws.filter((t) => t >= now - 1000);
  const e = st.epochs, span = e.length > 1 ? (e[e.length - 1][0] - e[0][0]) / 1000 : 0;
  return {
    redraws_per_second: recent.length,
    epochs_per_second: span > 0 ? (e[e.length - 1][1] - e[0][1]) / span : 0,
    last_draw_ms: Math.round(st.lastDrawMs * 100) / 100,
  };
};
// where the middle of edge (k, i, j) is on the page, in CSS pixels of the viewport
window.playgroundEdgeMidpoint = (k, i, j) => {
  const lay = state.layout, c = $("network");
  if (!lay) return null;
  const a = lay.nodes[k][i], b = lay.nodes[k + 1][j], r = c.getBoundingClientRect();
  return { x: r.left + c.clientLeft + (a.x + b.x) / 2, y: r.top + c.clientTop + (a.y + b.y) / 2 };
};
window.playgroundSelected = () => state.selected;
// where node i of column k is drawn, in CSS pixels of the network canvas (for tests)
window.playgroundNode = (k, i) => {
  const n = state.layout && state.layout.nodes[k] && state.layout.nodes[k][i];
  return n ? { x: n.x, y: n.y, size: n.size } : null;
};

function onWalk(m) {
  state.walk = m;
  if (!state.selected && state.last) {
    // the weight the server's text follows when none is chosen: the last layer's first
    state.selected = { kind: "weight", layer: state.last.widths.length - 2, i: 0, j: 0 };
    send(Object.assign({ type: "select" }, state.selected));
  }
  const next = { forward: "backward", backward: "update", update: "forward" }[m.phase];
  $("walk").textContent = `Step batch: ${next}`;
  $("walk-text").textContent = `batch ${m.batch} of epoch ${m.epoch + 1}: rows ${m.rows.slice(0, 8).join(", ")}${m.rows.length > 8 ? "…" : ""} (${m.n} points), loss ${fmt(m.loss)}\n\n${m.text}`;
  drawNetwork();
}

function download(m) {
  const url = URL.createObjectURL(new Blob([bytes(m.data)], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url; a.download = m.filename;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function onMessage(event) {
  const m = JSON.parse(event.data);
  if (m.type === "hello") {
    state.options = m.options; state.defaults = m.defaults; state.limits = m.limits;
    for (const key of ["activation", "init", "optimizer"]) fillSelect(key, m.options[key]);
    fillSelect("lr", LR_VALUES); fillSelect("l1", REG_VALUES); fillSelect("l2", REG_VALUES);
    sendConfig(Object.assign({}, m.defaults, settingsFromHash()));
  } else if (m.type === "data") {
    const first = !state.accepted;
    state.data = m; state.accepted = m.config;
    m._fmaps = maps(m.feature_maps);
    state.history = []; state.selected = null; state.walk = null; state.chain = null; state.last = null;
    state.layout = null;
    showConfig(m.config);
    writeHash();
    $("chain-title").textContent = "Chain rule of the selected weight";
    $("chain").textContent = "Click an edge of the network (or a node, for its bias).";
    $("editor").hidden = true;
    $("walk").textContent = "Step batch: forward";
    if (!first || !state.bootError) showError(null);
    state.bootError = null;
  } else if (m.type === "update") {
    onUpdate(m);
  } else if (m.type === "status") {
    setRunning(m.running);
    if (m.epoch !== undefined) $("epoch").textContent = m.epoch; // where it stopped
  } else if (m.type === "chain") {
    onChain(m);
  } else if (m.type === "walk") {
    onWalk(m);
  } else if (m.type === "uploaded") {
    state.customTask = m.task;
    sendConfig({ dataset: "custom", loss: "auto" });
  } else if (m.type === "export") {
    download(m);
  } else if (m.type === "error") {
    showError(m.message);
    if (!state.accepted) {
      // a link with a value the server refuses: say so, and start from the defaults
      state.bootError = m.message;
      sendConfig(Object.assign({}, state.defaults));
    } else {
      showConfig(state.accepted); // the controls go back to what the network has
      writeHash(); // and so does the address, if a bad value was typed into it
    }
  }
}

function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  state.ws = ws;
  ws.addEventListener("open", () => { $("conn").textContent = "connected"; });
  ws.addEventListener("message", onMessage);
  ws.addEventListener("close", () => {
    $("conn").textContent = "disconnected: reload the page";
    setRunning(false);
  });
}

wireControls();
connect();
