// brushwork's page: the style language of the CLI, a photo through POST /v1/stylize, and the
// webcam through the /v1/webcam WebSocket. No framework and no build step.
"use strict";

const $ = (id) => document.getElementById(id);

// What a test (or a curious user, from the console) can read.
const stats = {
  frames: 0, fps: 0, latencyMs: 0, inferenceMs: 0, dropped: 0, errors: 0,
  lastError: "", settingsAcked: 0, lastSeq: -1, transport: "",
};
window.brushwork = { stats };

// The bearer token, from #token=... in the address or asked for after a 401.
// (Parsed by hand: URLSearchParams would turn a base64 token's "+" into a space.)
const fromHash = location.hash.slice(1).split("&").find((kv) => kv.startsWith("token="));
let token = (fromHash && decodeURIComponent(fromHash.slice(6))) ||
  localStorage.getItem("brushwork-token") || "";
const authHeaders = () => (token ? { Authorization: "Bearer " + token } : {});

// Paintings dropped on the page, as style files (from /v1/embed).
const styleFiles = [];

function say(text, isError) {
  const s = $("status");
  s.textContent = text;
  s.className = isError ? "error" : "";
  if (isError) { stats.errors += 1; stats.lastError = text; }
}

async function api(path, init) {
  for (;;) {
    const response = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init && init.headers) } });
    if (response.status === 401) {
      const given = prompt("This server needs its token:");
      if (!given) throw new Error("no token given");
      token = given.trim();
      localStorage.setItem("brushwork-token", token);
      continue;
    }
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
      throw new Error(message);
    }
    return response;
  }
}

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

async function loadStyles() {
  const info = await (await api("/v1/styles")).json();
  $("engine").textContent = info.engine;
  for (const select of [$("style-a"), $("style-b")]) {
    const styles = document.createElement("optgroup");
    styles.label = "Built-in styles";
    for (const s of info.styles) {
      const o = option("builtin:" + s.name, s.name);
      o.title = s.credit;
      styles.append(o);
    }
    const presets = document.createElement("optgroup");
    presets.label = "Presets (26-style network)";
    for (let i = 0; i < info.presets; i++) presets.append(option("preset:" + i, "preset " + i));
    const paintings = document.createElement("optgroup");
    paintings.label = "Your paintings";
    paintings.className = "paintings";
    select.append(styles, presets, paintings);
  }
}

// One palette entry from a select's value: {style: text} or {preset: "N"}.
function entry(value) {
  if (value.startsWith("builtin:")) return { style: value.slice(8) };
  if (value.startsWith("preset:")) return { preset: value.slice(7) };
  if (value.startsWith("file:")) return { style: styleFiles[Number(value.slice(5))] };
  return null;
}

// The style fields every request sends, as /v1/stylize names them.
function lookFields() {
  const a = entry($("style-a").value);
  const b = entry($("style-b").value);
  const t = Number($("blend").value) / 100;
  const entries = b ? [a, b] : [a];
  if (b && ("preset" in a) !== ("preset" in b)) {
    throw new Error("blend two styles or two presets, not one of each");
  }
  const fields = { style: [], preset: [], strength: Number($("strength").value) / 100,
    preserve_color: $("preserve").checked };
  for (const e of entries) {
    if ("preset" in e) fields.preset.push(e.preset); else fields.style.push(e.style);
  }
  if (b) fields.weights = [1 - t, t];
  return fields;
}

function showControls() {
  const hasB = $("style-b").value !== "";
  $("blend").disabled = !hasB;
  const t = Number($("blend").value);
  $("blend-out").textContent = hasB ? `${100 - t}% A, ${t}% B` : "A";
  $("strength-out").textContent = (Number($("strength").value) / 100).toFixed(2);
}

// ---- paintings become styles --------------------------------------------------------------

async function addPainting(file) {
  say("embedding " + file.name + " …");
  const form = new FormData();
  form.append("image", file, file.name);
  try {
    const json = await (await api("/v1/embed", { method: "POST", body: form })).text();
    const name = JSON.parse(json).name;
    styleFiles.push(json);
    const value = "file:" + (styleFiles.length - 1);
    for (const select of [$("style-a"), $("style-b")]) {
      select.querySelector("optgroup.paintings").append(option(value, name));
    }
    $("style-a").value = value;
    settingsChanged();
    say(name + " is a style now (style A)");
  } catch (e) {
    say(file.name + ": " + e.message, true);
  }
}

// ---- a photo -------------------------------------------------------------------------------

let photo = null;

async function stylizePhoto() {
  if (!photo) return;
  let fields;
  try { fields = lookFields(); } catch (e) { say(e.message, true); return; }
  const form = new FormData();
  form.append("image", photo, photo.name);
  for (const s of fields.style) form.append("style", s);
  for (const p of fields.preset) form.append("preset", p);
  if (fields.weights) form.append("weights", fields.weights.join(","));
  form.append("strength", String(fields.strength));
  form.append("preserve_color", String(fields.preserve_color));
  const format = $("format").value;
  form.append("format", format);
  if ($("max-size").value) form.append("max_size", $("max-size").value);
  $("stylize").disabled = true;
  say("stylizing " + photo.name + " …");
  const started = performance.now();
  try {
    const response = await api("/v1/stylize", { method: "POST", body: form });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const old = $("result").src;
    $("result").src = url;
    if (old.startsWith("blob:")) URL.revokeObjectURL(old);
    $("download").href = url;
    $("download").download = photo.name.replace(/\.[^.]*$/, "") + "-stylized." + format;
    $("result-info").textContent = `${response.headers.get("x-brushwork-size")}, ` +
      `${Math.round(performance.now() - started)} ms`;
    $("result-box").hidden = false;
    say("done");
  } catch (e) {
    say(e.message, true);
  } finally {
    $("stylize").disabled = false;
  }
}

// ---- the webcam ----------------------------------------------------------------------------

// `generation` grows at every start and stop, so that callbacks of an earlier session end.
const cam = { stream: null, ws: null, seq: 0, sentAt: new Map(), done: [], latencies: [],
  inferences: [], timer: 0, generation: 0, drawing: Promise.resolve() };

function sendSettings() {
  if (!cam.ws || cam.ws.readyState !== WebSocket.OPEN) return;
  let fields;
  try { fields = lookFields(); } catch (e) { say(e.message, true); return; }
  cam.ws.send(JSON.stringify(fields));
}

function settingsChanged() {
  showControls();
  sendSettings();
}

async function startWebcam() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    say("this browser gives no camera to this page: use http://localhost or serve it over https", true);
    return;
  }
  const generation = ++cam.generation;
  $("cam-start").disabled = true;
  $("cam-stop").disabled = false;
  const [w, h] = $("cam-size").value.split("x").map(Number);
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: w }, height: { ideal: h } }, audio: false });
    if (generation !== cam.generation) { stream.getTracks().forEach((t) => t.stop()); return; }
    cam.stream = stream;
    const video = $("video");
    video.srcObject = stream;
    await video.play();
  } catch (e) {
    if (generation === cam.generation) stopWebcam("no camera: " + e.message);
    return;
  }
  if (generation !== cam.generation) return;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = token ? "?token=" + encodeURIComponent(token) : "";
  const ws = new WebSocket(`${scheme}//${location.host}/v1/webcam${query}`);
  ws.binaryType = "arraybuffer";
  cam.ws = ws;
  let opened = false;
  ws.onopen = () => { opened = true; sendSettings(); captureLoop(generation); };
  ws.onmessage = (m) => (typeof m.data === "string" ? onText(m.data) : onFrame(m.data));
  ws.onclose = (e) => {
    if (cam.ws !== ws) return;
    stopWebcam(opened ? "the connection closed" + (e.reason ? ": " + e.reason : "")
      : "the server refused the webcam (a wrong token, or too many webcams: see the server)");
  };
  say("webcam on");
}

function stopWebcam(why) {
  cam.generation += 1;
  clearTimeout(cam.timer);
  if (cam.ws) { const ws = cam.ws; cam.ws = null; ws.close(); }
  if (cam.stream) { cam.stream.getTracks().forEach((t) => t.stop()); cam.stream = null; }
  $("cam-start").disabled = false;
  $("cam-stop").disabled = true;
  if (typeof why === "string") say("webcam off: " + why, true); else say("webcam off");
}

// Sends the camera's newest picture whenever the socket has room: the server keeps only the
// latest frame, so a slow server means skipped frames, not a growing delay.
function captureLoop(generation) {
  if (!cam.ws || generation !== cam.generation) return;
  const video = $("video");
  const next = () => {
    if (generation !== cam.generation) return;
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(() => captureLoop(generation));
    else cam.timer = setTimeout(() => captureLoop(generation), 30);
  };
  if (cam.ws.readyState !== WebSocket.OPEN || cam.ws.bufferedAmount > 0 || !video.videoWidth) {
    next();
    return;
  }
  const [w, h] = [video.videoWidth, video.videoHeight];
  const canvas = $("cam-in");
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(video, 0, 0, w, h);
  const seq = (cam.seq = (cam.seq + 1) >>> 0);
  const header = (magic) => {
    const b = new ArrayBuffer(16);
    const v = new DataView(b);
    for (let i = 0; i < 4; i++) v.setUint8(i, magic.charCodeAt(i));
    v.setUint32(4, seq, true); v.setUint32(8, w, true); v.setUint32(12, h, true);
    return b;
  };
  cam.sentAt.set(seq, performance.now());
  if (cam.sentAt.size > 200) cam.sentAt.delete(cam.sentAt.keys().next().value);
  if ($("transport").value === "raw") {
    const pixels = ctx.getImageData(0, 0, w, h).data;
    cam.ws.send(new Blob([header("BWR1"), pixels]));
    next();
  } else {
    canvas.toBlob((jpeg) => {
      if (cam.ws && jpeg) cam.ws.send(new Blob([header("BWJ1"), jpeg]));
      next();
    }, "image/jpeg", 0.85);
  }
}

function median(values) {
  if (!values.length) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function onText(text) {
  const m = JSON.parse(text);
  if (m.error) { say("webcam: " + m.error, true); return; }
  if (m.settings) { stats.settingsAcked += 1; return; }
  if (m.seq !== undefined) {
    stats.dropped = m.dropped;
    cam.inferences.push(m.inference_ms);
    if (cam.inferences.length > 30) cam.inferences.shift();
    stats.inferenceMs = median(cam.inferences);
  }
}

// Frames are drawn one after the other, in the order they came (a JPEG decodes
// asynchronously; a later raw frame must not be overdrawn by it).
function onFrame(buffer) {
  cam.drawing = cam.drawing.then(() => draw(buffer)).catch((e) => say("webcam: " + e.message, true));
}

async function draw(buffer) {
  const v = new DataView(buffer);
  const magic = String.fromCharCode(v.getUint8(0), v.getUint8(1), v.getUint8(2), v.getUint8(3));
  const [seq, w, h] = [v.getUint32(4, true), v.getUint32(8, true), v.getUint32(12, true)];
  const out = $("cam-out");
  if (out.width !== w || out.height !== h) { out.width = w; out.height = h; }
  const ctx = out.getContext("2d");
  if (magic === "BWR1") {
    ctx.putImageData(new ImageData(new Uint8ClampedArray(buffer, 16), w, h), 0, 0);
  } else {
    const bitmap = await createImageBitmap(new Blob([new Uint8Array(buffer, 16)], { type: "image/jpeg" }));
    ctx.drawImage(bitmap, 0, 0);
    bitmap.close();
  }
  const now = performance.now();
  const sent = cam.sentAt.get(seq);
  if (sent !== undefined) {
    cam.latencies.push(now - sent);
    if (cam.latencies.length > 30) cam.latencies.shift();
    cam.sentAt.delete(seq);
  }
  cam.done.push(now);
  while (cam.done.length && now - cam.done[0] > 2000) cam.done.shift();
  stats.frames += 1;
  stats.lastSeq = seq;
  stats.transport = magic === "BWR1" ? "raw" : "JPEG";
  stats.fps = cam.done.length > 1 ? (cam.done.length - 1) / ((now - cam.done[0]) / 1000) : 0;
  stats.latencyMs = median(cam.latencies);
  $("cam-stats").textContent = `${stats.fps.toFixed(1)} fps · latency ${Math.round(stats.latencyMs)} ms ` +
    `(median of the last ${cam.latencies.length}) · stylize ${Math.round(stats.inferenceMs)} ms · ` +
    `${w}x${h} ${stats.transport} · ${stats.dropped} frames skipped`;
}

// ---- wiring --------------------------------------------------------------------------------

function dropZone(zone, input, take) {
  input.addEventListener("change", () => input.files[0] && take(input.files[0]));
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer.files[0]) take(e.dataTransfer.files[0]);
  });
}

dropZone($("painting-drop"), $("painting"), addPainting);
dropZone($("photo-drop"), $("photo-file"), (file) => {
  photo = file;
  $("stylize").disabled = false;
  stylizePhoto();
});
$("stylize").addEventListener("click", stylizePhoto);
for (const id of ["style-a", "style-b", "blend", "strength", "preserve"]) {
  $(id).addEventListener("input", settingsChanged);
}
$("cam-start").addEventListener("click", startWebcam);
$("cam-stop").addEventListener("click", () => stopWebcam());
$("transport").addEventListener("change", () => { cam.sentAt.clear(); cam.latencies = []; });

loadStyles().then(showControls, (e) => say("cannot reach the server: " + e.message, true));
