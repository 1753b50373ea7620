// chainrule playground page: plain JavaScript, no build step, no external files.
// The server owns the network; this page sends settings and draws what comes back.
"use strict";

const $ = (id) => document.getElementById(id);
const CLASS_RGB = [[232, 113, 10], [31, 119, 180], [44, 160, 44]];
const POS = "#1f77b4", NEG = "#e8710a";

const state = {
  ws: null, options: null, defaults: null, limits: null,
  hidden: [8, 8], features: null, running: false, data: null, last: null,
  history: [], selected: null, applying: false,
};

// ---------------------------------------------------------------- settings <-> URL hash
const FIELDS = ["dataset", "noise", "train_ratio", "activation", "init", "loss",
  "optimizer", "lr", "batch_size", "l2", "seed"];
const ELEMENT = { train_ratio: "train-ratio", batch_size: "batch-size" };
const el = (key) => $(ELEMENT[key] || key);

function readConfig() {
  const cfg = { type: "config", hidden: state.hidden.slice() };
  // null: the dataset's default features (the server says which)
  cfg.features = state.features ? state.features.slice() : "auto";
  for (const key of FIELDS) {
    const v = el(key).value;
    // numbers go as typed: the server validates them and explains what is wrong
    cfg[key] = ["dataset", "activation", "init", "loss", "optimizer"].includes(key)
      ? v : (v.trim() !== "" && !isNaN(Number(v)) ? Number(v) : v);
  }
  return cfg;
}

function writeHash(cfg) {
  const p = new URLSearchParams();
  for (const key of FIELDS) p.set(key, cfg[key]);
  p.set("hidden", cfg.hidden.join(","));
  if (Array.isArray(cfg.features)) p.set("features", cfg.features.join(","));
  history.replaceState(null, "", "#" + p.toString());
}

function applySettings(obj) {
  for (const key of FIELDS) if (obj[key] !== undefined && obj[key] !== null) el(key).value = obj[key];
  if (obj.hidden !== undefined) state.hidden = obj.hidden.slice();
  if (obj.features !== undefined) state.features = obj.features === "auto" ? null : obj.features.slice();
  $("noise-value").textContent = $("noise").value;
  $("train-ratio-value").textContent = $("train-ratio").value;
  fillLossOptions();
  if (obj.loss !== undefined && obj.loss !== "auto") $("loss").value = obj.loss;
  drawLayerEditor();
  drawFeatureBoxes();
}

function settingsFromHash() {
  const h = location.hash.replace(/^#/, "");
  if (!h) return {};
  const p = new URLSearchParams(h), obj = {};
  for (const key of FIELDS) if (p.has(key)) obj[key] = p.get(key);
  if (p.has("hidden")) {
    obj.hidden = p.get("hidden") === "" ? [] : p.get("hidden").split(",").map(Number);
  }
  if (p.has("features")) obj.features = p.get("features") === "" ? [] : p.get("features").split(",");
  return obj;
}

// ---------------------------------------------------------------- controls
function fillSelect(id, values) {
  const s = $(id);
  s.innerHTML = "";
  for (const v of values) {
    const o = document.createElement("option");
    o.value = v; o.textContent = v.replace(/_/g, " ");
    s.appendChild(o);
  }
}

function fillLossOptions() {
  if (!state.options) return;
  const task = $("dataset").value === "sin" ? "regress" : "classify";
  const keep = $("loss").value;
  fillSelect("loss", state.options.loss[task]);
  if (state.options.loss[task].includes(keep)) $("loss").value = keep;
}

// feature names as the server knows them ("x1^2") -> as they are shown ("x1²")
function prettyFeature(name) {
  return name.replace("^2", "²").replace("^3", "³").replace("*", "·").replace(/^sin\((.*)\)$/, "sin $1");
}

const taskOf = () => ($("dataset").value === "sin" ? "regress" : "classify");

function drawFeatureBoxes() {
  if (!state.options) return;
  const box = $("feature-boxes"), task = taskOf(), names = state.options.features[task];
  // features of the other kind of dataset (1-D vs 2-D): back to this one's defaults
  if (state.features && !state.features.every((f) => names.includes(f))) state.features = null;
  const chosen = state.features || state.options.default_features[task];
  box.innerHTML = "";
  for (const name of names) {
    const label = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox"; input.dataset.feature = name; input.checked = chosen.includes(name);
    input.addEventListener("change", () => {
      // in the order the page lists them: that is the order of the model's input columns
      state.features = [...box.querySelectorAll("input")].filter((i) => i.checked).map((i) => i.dataset.feature);
      sendConfig();
    });
    label.appendChild(input);
    label.appendChild(document.createTextNode(prettyFeature(name)));
    box.appendChild(label);
  }
}

function drawLayerEditor() {
  const box = $("layer-editor");
  box.innerHTML = "";
  state.hidden.forEach((units, k) => {
    const label = document.createElement("label");
    label.textContent = `layer ${k + 1}`;
    const input = document.createElement("input");
    input.type = "number"; input.min = "1"; input.max = String(state.limits ? state.limits.units : 128);
    input.value = units; input.className = "units"; input.dataset.layer = k;
    input.addEventListener("change", () => {
      const n = Number(input.value);
      state.hidden[k] = Number.isFinite(n) ? n : input.value;
      sendConfig();
    });
    label.appendChild(input);
    box.appendChild(label);
  });
}

function send(msg) {
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.ws.send(JSON.stringify(msg));
}

function sendConfig() {
  if (state.applying) return;
  const cfg = readConfig();
  writeHash(cfg);
  send(cfg);
}

function setRunning(running) {
  state.running = running;
  $("play").innerHTML = running ? "&#10074;&#10074; Pause" : "&#9654; Play";
}

function showError(message) {
  const e = $("error");
  if (message) { e.textContent = message; e.hidden = false; } else { e.hidden = true; e.textContent = ""; }
}

function wireControls() {
  for (const key of FIELDS) {
    el(key).addEventListener("change", () => {
      if (key === "dataset") { fillLossOptions(); drawFeatureBoxes(); }
      sendConfig();
    });
  }
  $("noise").addEventListener("input", () => { $("noise-value").textContent = $("noise").value; });
  $("train-ratio").addEventListener("input", () => { $("train-ratio-value").textContent = $("train-ratio").value; });
  $("add-layer").addEventListener("click", () => {
    const maxLayers = state.limits ? state.limits.layers : 8;
    if (state.hidden.length >= maxLayers) { showError(`at most ${maxLayers} hidden layers`); return; }
    state.hidden.push(state.hidden.length ? state.hidden[state.hidden.length - 1] : 4);
    drawLayerEditor(); sendConfig();
  });
  $("remove-layer").addEventListener("click", () => {
    state.hidden.pop(); drawLayerEditor(); sendConfig();
  });
  $("play").addEventListener("click", () => {
    send({ type: state.running ? "pause" : "play" });
  });
  $("step").addEventListener("click", () => send({ type: "step" }));
  $("reset").addEventListener("click", () => send({ type: "reset" }));
  $("export").addEventListener("click", () => send({ type: "export" }));
  window.addEventListener("hashchange", () => {
    if (!state.options) return;
    state.applying = true;
    applySettings(settingsFromHash());
    state.applying = false;
    sendConfig();
  });
}

// ---------------------------------------------------------------- drawing
function fmt(x) {
  if (x === null || x === undefined) return "–";
  if (x === 0) return "0";
  return Math.abs(x) >= 0.01 && Math.abs(x) < 1000 ? x.toFixed(3) : x.toExponential(2);
}

function toCanvas(extent, w, h) {
  const [x0, x1, y0, y1] = extent;
  return (x, y) => [(x - x0) / (x1 - x0) * w, (y1 - y) / (y1 - y0) * h];
}

function drawBoundary(update) {
  const c = $("boundary"), g = c.getContext("2d");
  const d = state.data;
  if (!d) return;
  g.clearRect(0, 0, c.width, c.height);
  if (update && update.boundary) {
    const b = update.boundary, n = b.size, k = b.n_classes;
    const img = g.createImageData(n, n);
    for (let p = 0; p < n * n; p++) {
      let r = 0, gr = 0, bl = 0;
      if (k === 2) {
        const q = b.proba[p * 2 + 1], t = Math.abs(q - 0.5) * 2, col = CLASS_RGB[q > 0.5 ? 1 : 0];
        r = 255 + (col[0] - 255) * t * 0.75; gr = 255 + (col[1] - 255) * t * 0.75; bl = 255 + (col[2] - 255) * t * 0.75;
      } else {
        for (let j = 0; j < k; j++) {
          const q = b.proba[p * k + j], col = CLASS_RGB[j % 3];
          r += q * col[0]; gr += q * col[1]; bl += q * col[2];
        }
        r = 255 + (r - 255) * 0.6; gr = 255 + (gr - 255) * 0.6; bl = 255 + (bl - 255) * 0.6;
      }
      img.data.set([r, gr, bl, 255], p * 4);
    }
    const tmp = document.createElement("canvas");
    tmp.width = n; tmp.height = n;
    tmp.getContext("2d").putImageData(img, 0, 0);
    g.imageSmoothingEnabled = true;
    g.drawImage(tmp, 0, 0, c.width, c.height);
  }
  if (d.task === "regress") { drawCurve(g, c, update); return; }
  const map = toCanvas(d.extent, c.width, c.height);
  const dot = (X, y, stroke) => {
    for (let i = 0; i < X.length; i++) {
      const [px, py] = map(X[i][0], X[i][1]), col = CLASS_RGB[y[i] % 3];
      g.beginPath(); g.arc(px, py, 3.2, 0, 2 * Math.PI);
      g.fillStyle = `rgb(${col[0]},${col[1]},${col[2]})`; g.fill();
      g.lineWidth = 1; g.strokeStyle = stroke; g.stroke();
    }
  };
  dot(d.X_train, d.y_train, "#fff");
  dot(d.X_test, d.y_test, "#000");
}

function drawCurve(g, c, update) {
  const d = state.data;
  const ys = d.y_train.concat(d.y_test);
  let lo = Math.min(...ys), hi = Math.max(...ys);
  if (update && update.curve) { lo = Math.min(lo, ...update.curve.y); hi = Math.max(hi, ...update.curve.y); }
  const pad = 0.1 * (hi - lo || 1);
  const map = toCanvas([d.extent[0], d.extent[1], lo - pad, hi + pad], c.width, c.height);
  g.fillStyle = "#fff"; g.fillRect(0, 0, c.width, c.height);
  const dot = (X, y, col) => {
    for (let i = 0; i < X.length; i++) {
      const [px, py] = map(X[i][0], y[i]);
      g.beginPath(); g.arc(px, py, 2.5, 0, 2 * Math.PI); g.fillStyle = col; g.fill();
    }
  };
  dot(d.X_train, d.y_train, POS);
  dot(d.X_test, d.y_test, "#999");
  if (update && update.curve) {
    g.beginPath(); g.strokeStyle = NEG; g.lineWidth = 2.5;
    update.curve.x.forEach((x, i) => {
      const [px, py] = map(x, update.curve.y[i]);
      if (i === 0) g.moveTo(px, py); else g.lineTo(px, py);
    });
    g.stroke();
  }
}

function drawLossCurve() {
  const c = $("loss-curve"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const h = state.history;
  if (h.length < 2) return;
  const vals = h.flatMap((p) => [p.train, p.test]).filter((v) => v !== null && Number.isFinite(v));
  const top = Math.max(...vals, 1e-9), e0 = h[0].epoch, e1 = h[h.length - 1].epoch || 1;
  const line = (key, col, width) => {
    g.beginPath(); g.strokeStyle = col; g.lineWidth = width;
    h.forEach((p, i) => {
      const v = p[key] === null ? top : p[key];
      const x = (p.epoch - e0) / Math.max(e1 - e0, 1) * (c.width - 4) + 2;
      const y = c.height - 4 - v / top * (c.height - 8);
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  };
  line("train", "#999", 1.5);
  line("test", "#111", 2);
}

function drawNetwork(update) {
  const svg = $("network"), ns = "http://www.w3.org/2000/svg";
  const W = update.weights;
  const widths = [W[0].length, ...W.map((w) => w[0].length)];
  const width = Number(svg.getAttribute("width")), height = Number(svg.getAttribute("height"));
  const colX = (k) => 62 + k * (width - 92) / (widths.length - 1);
  const nodeY = (k, i) => {
    const n = widths[k], gap = Math.min(28, (height - 30) / Math.max(n, 1));
    return height / 2 + (i - (n - 1) / 2) * gap;
  };
  let maxAbs = 1e-9;
  for (const w of W) for (const row of w) for (const v of row) maxAbs = Math.max(maxAbs, Math.abs(v));
  svg.innerHTML = "";
  W.forEach((w, k) => {
    w.forEach((row, i) => row.forEach((v, j) => {
      const line = document.createElementNS(ns, "line");
      line.setAttribute("x1", colX(k)); line.setAttribute("y1", nodeY(k, i));
      line.setAttribute("x2", colX(k + 1)); line.setAttribute("y2", nodeY(k + 1, j));
      line.setAttribute("stroke", v >= 0 ? POS : NEG);
      line.setAttribute("stroke-width", (0.4 + 4.5 * Math.abs(v) / maxAbs).toFixed(2));
      line.setAttribute("stroke-opacity", "0.75");
      line.dataset.layer = k; line.dataset.i = i; line.dataset.j = j;
      const s = state.selected;
      if (s && s.layer === k && s.i === i && s.j === j) line.classList.add("selected");
      const title = document.createElementNS(ns, "title");
      title.textContent = `W${k + 1}[${i},${j}] = ${v}`;
      line.appendChild(title);
      line.addEventListener("click", () => {
        state.selected = { layer: k, i, j };
        $("chain").textContent = "tracing…";
        send({ type: "weight", layer: k, i, j });
      });
      svg.appendChild(line);
    }));
  });
  const act = update.layers.filter((l) => l.grad_norm !== null);
  const maps = update.unit_maps;
  widths.forEach((n, k) => {
    const info = k > 0 ? act[k - 1] : null;
    for (let i = 0; i < n; i++) {
      if (maps && k > 0 && k < widths.length - 1) {
        // the unit's own output over the input plane, drawn as its node
        const size = Math.min(22, Math.max(8, (height - 30) / n - 4));
        const image = document.createElementNS(ns, "image");
        image.setAttribute("href", unitImage(maps.maps[k - 1][i], maps.size));
        image.setAttribute("x", colX(k) - size / 2); image.setAttribute("y", nodeY(k, i) - size / 2);
        image.setAttribute("width", size); image.setAttribute("height", size);
        image.setAttribute("class", "unit"); image.setAttribute("preserveAspectRatio", "none");
        svg.appendChild(image);
        continue;
      }
      const circle = document.createElementNS(ns, "circle");
      circle.setAttribute("cx", colX(k)); circle.setAttribute("cy", nodeY(k, i));
      circle.setAttribute("r", Math.min(8, Math.max(3, 200 / (n * 2.5))));
      if (k === 0) {
        // one input node per feature, with its name
        const name = update.features ? update.features[i] : `x${i + 1}`;
        circle.setAttribute("class", "input"); circle.dataset.feature = name;
        const t = document.createElementNS(ns, "text");
        t.setAttribute("x", colX(0) - 11); t.setAttribute("y", nodeY(0, i) + 4);
        t.setAttribute("text-anchor", "end"); t.setAttribute("class", "feature");
        t.textContent = prettyFeature(name);
        svg.appendChild(t);
      }
      svg.appendChild(circle);
    }
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", colX(k) - 14); label.setAttribute("y", 12);
    label.textContent = k === 0 ? "input" : k === widths.length - 1 ? "output" : `${n} ${info && info.activation ? info.activation : ""}`;
    svg.appendChild(label);
  });
}

const unitCanvas = document.createElement("canvas");
function unitImage(values, n) {
  unitCanvas.width = n; unitCanvas.height = n;
  const g = unitCanvas.getContext("2d"), img = g.createImageData(n, n);
  let top = 1e-9;
  for (const v of values) top = Math.max(top, Math.abs(v));
  values.forEach((v, p) => {
    const t = Math.abs(v) / top, col = v >= 0 ? CLASS_RGB[1] : CLASS_RGB[0];
    img.data.set([255 + (col[0] - 255) * t, 255 + (col[1] - 255) * t, 255 + (col[2] - 255) * t, 255], p * 4);
  });
  g.putImageData(img, 0, 0);
  return unitCanvas.toDataURL();
}

function download(m) {
  const bytes = Uint8Array.from(atob(m.data), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = document.createElement("a");
  a.href = url; a.download = m.filename;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function drawInsight(update) {
  const body = $("layer-table").querySelector("tbody");
  body.innerHTML = "";
  const pct = (v) => (v === null || v === undefined ? "–" : (100 * v).toFixed(0) + "%");
  for (const l of update.layers) {
    const tr = document.createElement("tr");
    for (const cell of [l.index, l.activation || "none", l.units ?? "–", fmt(l.grad_norm), pct(l.dead_fraction), pct(l.saturation)]) {
      const td = document.createElement("td"); td.textContent = cell; tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  const ul = $("verdicts");
  ul.innerHTML = "";
  if (!update.verdicts.length) {
    const li = document.createElement("li"); li.className = "ok";
    li.textContent = "No problems found: no dead or saturated layers, gradients flow.";
    ul.appendChild(li);
  }
  for (const v of update.verdicts) {
    const li = document.createElement("li"); li.textContent = v; ul.appendChild(li);
  }
}

// ---------------------------------------------------------------- messages
function onUpdate(u) {
  state.last = u;
  $("epoch").textContent = u.epoch;
  $("train-loss").textContent = fmt(u.train_loss);
  $("test-loss").textContent = fmt(u.test_loss);
  if (!u.running && state.running) setRunning(false);
  const h = state.history;
  if (h.length && h[h.length - 1].epoch >= u.epoch) h.length = 0;
  h.push({ epoch: u.epoch, train: u.train_loss, test: u.test_loss });
  if (h.length > 600) state.history = h.filter((_, i) => i % 2 === 0 || i === h.length - 1);
  drawBoundary(u);
  drawLossCurve();
  drawNetwork(u);
  drawInsight(u);
  send({ type: "ack" }); // drawn: the server may send the next one
}

function onMessage(event) {
  const m = JSON.parse(event.data);
  if (m.type === "hello") {
    state.options = m.options; state.defaults = m.defaults; state.limits = m.limits;
    for (const key of ["dataset", "activation", "init", "optimizer"]) fillSelect(key, m.options[key]);
    state.applying = true;
    applySettings(m.defaults);
    applySettings(settingsFromHash());
    state.applying = false;
    sendConfig();
  } else if (m.type === "data") {
    state.data = m; state.history = []; state.selected = null;
    if (m.config && m.config.features) { state.features = m.config.features.slice(); drawFeatureBoxes(); }
    $("chain").textContent = "Click an edge of the network.";
    showError(null);
  } else if (m.type === "update") {
    onUpdate(m);
  } else if (m.type === "status") {
    setRunning(m.running);
  } else if (m.type === "weight") {
    $("chain").textContent = `W${m.layer + 1}[${m.i},${m.j}] = ${m.value.toPrecision(4)},  dL/dW = ${m.grad.toPrecision(4)}\n\n${m.text}`;
  } else if (m.type === "export") {
    download(m);
  } else if (m.type === "error") {
    showError(m.message);
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
