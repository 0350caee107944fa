"""The HTML/JavaScript of viewer.html (``__TITLE__`` and ``__DATA__`` are filled in by viewer.py).

Plain JavaScript on a 2D canvas, no library: the page is one file that any current browser
opens from disk or from ``tmesim view``'s local server.
"""

PAGE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<link rel="icon" href="data:,">
<style>
body{font-family:system-ui,sans-serif;margin:1em 1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 0.2em} #desc{color:#555;margin:0 0 0.8em;max-width:70em}
#wrap{display:flex;gap:1.5em;align-items:flex-start;flex-wrap:wrap}
#map{border:0;cursor:crosshair;flex:none}
#controls{flex:1 1 300px;min-width:280px;max-width:460px;font-size:0.9em}
#controls section{margin-bottom:0.9em}
#time{width:100%} #timerow{display:flex;align-items:center;gap:0.6em}
#layers{border:1px solid #ccc;padding:0.4em 0.6em;margin:0}
#layers label{display:flex;align-items:center;gap:0.45em;padding:1px 0}
#layers .n{color:#777;margin-left:auto;font-variant-numeric:tabular-nums}
.sw{display:inline-block;width:12px;height:12px;border:1px solid #0004;flex:none}
#hover{min-height:2.6em;color:#333;font-variant-numeric:tabular-nums}
#error{color:#b00;font-weight:bold}
button{font:inherit}
</style></head><body>
<h1 id="title"></h1><p id="desc"></p><p id="error" hidden></p>
<div id="wrap">
<canvas id="map" aria-label="map of cell types and substrate field"></canvas>
<div id="controls">
<section><div id="timerow"><button id="play" type="button">&#9654; play</button>
<label for="time">day <b id="day"></b></label></div>
<input type="range" id="time" min="0" max="0" step="1" value="0" aria-label="snapshot"></section>
<section><label for="field">substrate field</label>
<select id="field"><option value="">none</option></select><br>
<label for="alpha">field opacity</label> <input type="range" id="alpha" min="0" max="100" value="100"></section>
<fieldset id="layers"><legend>cell types
<button id="all" type="button">all</button> <button id="none" type="button">none</button></legend></fieldset>
<p id="hover">Move the mouse over the map to read a site.</p>
</div></div>
<script id="tmesim-data" type="application/json">__DATA__</script>
<script>
"use strict";
(async function () {
  const D = JSON.parse(document.getElementById("tmesim-data").textContent);
  const $ = (id) => document.getElementById(id);
  const fail = (msg) => { const e = $("error"); e.textContent = msg; e.hidden = false; };

  async function unpack(b64) {
    const s = atob(b64), bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  if (typeof DecompressionStream === "undefined") {
    fail("This browser cannot unpack the embedded data (no DecompressionStream): use a current Chrome, Edge, Firefox or Safari.");
    return;
  }

  $("title").textContent = "tmesim run: " + D.name;
  $("desc").textContent = [D.description || "",
    D.dims === 3 ? "3D run: the central z slice (z = " + D.z_slice_um + " µm) is shown." : "",
    "Seed " + D.seed + ", tmesim " + D.tmesim_version + "."].filter(Boolean).join(" ");

  const T = D.times.length, nx = D.nx, ny = D.ny, cellsPer = nx * ny;
  const cells = await unpack(D.cells);
  const fields = [];
  for (const f of D.fields) fields.push(Object.assign({}, f, { data: await unpack(f.data) }));

  const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  const lut = D.colormap.map(rgb);
  // colour and visibility of each code: 1..n cell types, 255 dead
  const layers = D.types.map((t, i) => ({ code: i + 1, label: t.label, color: t.color, on: true }));
  layers.push({ code: D.dead.code, label: D.dead.label, color: D.dead.color, on: true });
  const byCode = new Map(layers.map((l) => [l.code, l]));

  // ---------------------------------------------------------------- controls
  const slider = $("time"), fieldSel = $("field"), alpha = $("alpha");
  slider.max = String(T - 1);
  fields.forEach((f, i) => {
    const o = document.createElement("option");
    o.value = String(i); o.textContent = f.label + (f.unit ? " (" + f.unit + ")" : "");
    fieldSel.appendChild(o);
  });
  const countEls = new Map();
  for (const l of layers) {
    const lab = document.createElement("label");
    const cb = document.createElement("input");
    cb.type = "checkbox"; cb.checked = true; cb.dataset.code = String(l.code);
    cb.addEventListener("change", () => { l.on = cb.checked; draw(); });
    const sw = document.createElement("span");
    sw.className = "sw"; sw.style.background = l.color;
    const name = document.createElement("span"); name.textContent = l.label;
    const n = document.createElement("span"); n.className = "n";
    countEls.set(l.code, n);
    lab.append(cb, sw, name, n);
    $("layers").appendChild(lab);
  }
  const setAll = (on) => {
    for (const cb of $("layers").querySelectorAll("input[type=checkbox]")) cb.checked = on;
    for (const l of layers) l.on = on;
    draw();
  };
  $("all").addEventListener("click", () => setAll(true));
  $("none").addEventListener("click", () => setAll(false));
  slider.addEventListener("input", () => draw());
  fieldSel.addEventListener("change", () => draw());
  alpha.addEventListener("input", () => draw());
  let timer = null;
  const stop = () => { clearInterval(timer); timer = null; $("play").innerHTML = "&#9654; play"; };
  $("play").addEventListener("click", () => {
    if (timer) { stop(); return; }
    if (+slider.value >= T - 1) slider.value = "0";
    $("play").innerHTML = "&#10074;&#10074; pause";
    draw();
    timer = setInterval(() => {
      if (+slider.value >= T - 1) { stop(); return; }
      slider.value = String(+slider.value + 1); draw();
    }, 600);
  });

  // ---------------------------------------------------------------- geometry
  const W = nx * D.dx, H = ny * D.dx;                // domain in µm
  const side = 560, plotW = Math.round(W >= H ? side : side * W / H), plotH = Math.round(H >= W ? side : side * H / W);
  const m = { l: 64, r: 110, t: 34, b: 48 };
  const cw = m.l + plotW + m.r, ch = m.t + plotH + m.b;
  const canvas = $("map"), dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(cw * dpr); canvas.height = Math.round(ch * dpr);
  canvas.style.width = cw + "px"; canvas.style.height = ch + "px";
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  const cellCanvas = document.createElement("canvas"); cellCanvas.width = nx; cellCanvas.height = ny;
  const cellCtx = cellCanvas.getContext("2d"), cellImg = cellCtx.createImageData(nx, ny);
  const fieldCanvas = document.createElement("canvas"), fieldCtx = fieldCanvas.getContext("2d");

  function niceStep(range, n) {
    const raw = range / n, p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const k of [1, 2, 5, 10]) if (k * p >= raw) return k * p;
    return 10 * p;
  }
  const fmt = (v) => (v === 0 ? "0" : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-2 ? v.toExponential(2) : (+v.toPrecision(3)).toString());

  function drawAxes(title) {
    ctx.strokeStyle = "#333"; ctx.lineWidth = 1;
    ctx.strokeRect(m.l - 0.5, m.t - 0.5, plotW + 1, plotH + 1);
    ctx.fillStyle = "#222"; ctx.font = "12px system-ui, sans-serif";
    const sx = niceStep(W, 5), sy = niceStep(H, 5);
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (let v = 0; v <= W + 1e-9; v += sx) {
      const x = m.l + v / W * plotW;
      ctx.beginPath(); ctx.moveTo(x, m.t + plotH); ctx.lineTo(x, m.t + plotH + 5); ctx.stroke();
      ctx.fillText(String(Math.round(v)), x, m.t + plotH + 7);
    }
    ctx.fillText("x (µm)", m.l + plotW / 2, m.t + plotH + 26);
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (let v = 0; v <= H + 1e-9; v += sy) {
      const y = m.t + plotH - v / H * plotH;
      ctx.beginPath(); ctx.moveTo(m.l - 5, y); ctx.lineTo(m.l, y); ctx.stroke();
      ctx.fillText(String(Math.round(v)), m.l - 7, y);
    }
    ctx.save(); ctx.translate(16, m.t + plotH / 2); ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center"; ctx.fillText("y (µm)", 0, 0); ctx.restore();
    ctx.font = "bold 14px system-ui, sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "alphabetic";
    ctx.fillText(title, m.l + plotW / 2, m.t - 12);
  }

  function drawColorbar(f) {
    const x = m.l + plotW + 18, w = 14, y0 = m.t, h = plotH;
    for (let i = 0; i < h; i++) {
      const c = lut[Math.round((1 - i / (h - 1)) * 255)];
      ctx.fillStyle = "rgb(" + c[0] + "," + c[1] + "," + c[2] + ")";
      ctx.fillRect(x, y0 + i, w, 1);
    }
    ctx.strokeStyle = "#333"; ctx.strokeRect(x - 0.5, y0 - 0.5, w + 1, h + 1);
    ctx.fillStyle = "#222"; ctx.font = "11px system-ui, sans-serif"; ctx.textAlign = "left";
    ctx.textBaseline = "top"; ctx.fillText(fmt(f.max), x + w + 4, y0);
    ctx.textBaseline = "bottom"; ctx.fillText(fmt(f.min), x + w + 4, y0 + h);
    ctx.save(); ctx.translate(x + w + 14, y0 + h / 2); ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center"; ctx.textBaseline = "middle";
    ctx.fillText(f.label + (f.unit ? " (" + f.unit + ")" : ""), 0, 0); ctx.restore();
  }

  let draws = 0;
  function draw() {
    const t = +slider.value, day = D.times[t];
    $("day").textContent = String(+day.toFixed(3));
    ctx.clearRect(0, 0, cw, ch);
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, cw, ch);
    ctx.imageSmoothingEnabled = false;
    const fi = fieldSel.value === "" ? -1 : +fieldSel.value;
    if (fi >= 0) {
      const f = fields[fi], fw = f.nx, fh = f.ny, off = D.field_index[t] * fw * fh;
      if (fieldCanvas.width !== fw || fieldCanvas.height !== fh) { fieldCanvas.width = fw; fieldCanvas.height = fh; }
      const img = fieldCtx.createImageData(fw, fh);
      for (let j = 0; j < fh; j++) for (let i = 0; i < fw; i++) {
        const c = lut[f.data[off + j * fw + i]], k = ((fh - 1 - j) * fw + i) * 4;   // y up
        img.data[k] = c[0]; img.data[k + 1] = c[1]; img.data[k + 2] = c[2]; img.data[k + 3] = 255;
      }
      fieldCtx.putImageData(img, 0, 0);
      ctx.globalAlpha = +alpha.value / 100;
      // a block-averaged field covers fw*f.dx >= W µm: draw it at its own extent, clipped to the domain
      ctx.save(); ctx.beginPath(); ctx.rect(m.l, m.t, plotW, plotH); ctx.clip();
      const ew = fw * f.dx / W * plotW, eh = fh * f.dx / H * plotH;
      ctx.drawImage(fieldCanvas, m.l, m.t + plotH - eh, ew, eh);
      ctx.restore(); ctx.globalAlpha = 1;
    }
    const counts = new Map(layers.map((l) => [l.code, 0]));
    const px = cellImg.data, base = t * cellsPer;
    for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      const code = cells[base + j * nx + i], k = ((ny - 1 - j) * nx + i) * 4;
      const l = code ? byCode.get(code) : undefined;
      if (l) counts.set(code, counts.get(code) + 1);
      if (l && l.on) {
        const c = l.rgb || (l.rgb = rgb(l.color));
        px[k] = c[0]; px[k + 1] = c[1]; px[k + 2] = c[2]; px[k + 3] = 255;
      } else px[k + 3] = 0;
    }
    cellCtx.putImageData(cellImg, 0, 0);
    ctx.drawImage(cellCanvas, m.l, m.t, plotW, plotH);
    for (const [code, n] of counts) countEls.get(code).textContent = n.toLocaleString("en");
    drawAxes("Cell types, day " + (+day.toFixed(3)) + (fi >= 0 ? " · " + fields[fi].label : ""));
    if (fi >= 0) drawColorbar(fields[fi]);
    draws += 1;
    window.tmesimViewer.draws = draws;
  }

  canvas.addEventListener("mousemove", (ev) => {
    const r = canvas.getBoundingClientRect();
    const xu = (ev.clientX - r.left - m.l) / plotW * W, yu = (m.t + plotH - (ev.clientY - r.top)) / plotH * H;
    if (xu < 0 || yu < 0 || xu >= W || yu >= H) return;
    const t = +slider.value, i = Math.floor(xu / D.dx), j = Math.floor(yu / D.dx);
    const code = cells[t * cellsPer + j * nx + i], l = byCode.get(code);
    let text = "x " + Math.round(xu) + " µm, y " + Math.round(yu) + " µm: " + (l ? l.label : "empty site");
    const fi = fieldSel.value === "" ? -1 : +fieldSel.value;
    if (fi >= 0) {
      const f = fields[fi], fi_ = Math.min(f.nx - 1, Math.floor(xu / f.dx)), fj = Math.min(f.ny - 1, Math.floor(yu / f.dx));
      const q = f.data[D.field_index[t] * f.nx * f.ny + fj * f.nx + fi_];
      text += "; " + f.label + " ≈ " + fmt(f.min + q / 255 * (f.max - f.min)) + " " + f.unit;
    }
    $("hover").textContent = text;
  });

  window.tmesimViewer = { ready: false, draws: 0, snapshots: T, fields: fields.map((f) => f.name), draw };
  draw();
  window.tmesimViewer.ready = true;
  document.body.dataset.ready = "1";
})().catch((err) => {
  const e = document.getElementById("error");
  e.textContent = "viewer error: " + err; e.hidden = false;
  console.error(err);
});
</script>
</body></html>
"""
