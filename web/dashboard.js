// brandpulse live dashboard: polls the engine's small JSON endpoints and redraws.
// ?poll=MS sets the interval (default 2000); ?last=DURATION the time range (default: 24 windows).
"use strict";

const params = new URLSearchParams(location.search);
const POLL_MS = Math.max(200, Number(params.get("poll")) || 2000);
const COLORS = ["#2f6fde", "#d9544d", "#2e9d5b", "#c98a1d", "#8a55c9", "#1a9aa8", "#7a7f8c", "#e07bb5"];
const TOP_BRANDS = 6;

const state = {
  brands: [],          // [{brand, name, group}]
  windowName: "",
  windowMs: 0,
  groups: [],
  lastAlert: 0,
  alertCount: 0,
  previous: null,      // {records, at} for the rate
  volumePlot: null,
  volumeSeriesKey: "",
  updates: 0,
};

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat("en");

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function durationText(ms) {
  if (ms % 3600000 === 0) return `${ms / 3600000}h`;
  if (ms % 60000 === 0) return `${ms / 60000}m`;
  return `${Math.max(1, Math.round(ms / 1000))}s`;
}

function rangeParam() {
  const last = params.get("last");
  if (last) return `last=${encodeURIComponent(last)}`;
  return `last=${durationText(Math.max(60000, state.windowMs * 24))}`;
}

function fillSelect(select, values, labels) {
  const kept = select.value;
  const wanted = values.join("\n");
  if (select.dataset.values !== wanted) {
    select.replaceChildren(...values.map((value, i) => new Option(labels ? labels[i] : value, value)));
    select.dataset.values = wanted;
    if (values.includes(kept)) select.value = kept;
  }
}

async function loadBrands() {
  const answer = await getJson("/api/v1/brands");
  state.brands = answer.brands || [];
  const window = (answer.windows || []).find((w) => w.type !== "hopping") || (answer.windows || [])[0];
  if (window) {
    state.windowName = window.name;
    state.windowMs = window.size_ms;
  }
  state.groups = [...new Set(state.brands.map((b) => b.group).filter(Boolean))];
  fillSelect($("group"), state.groups);
  fillSelect($("terms-brand"), state.brands.map((b) => b.brand), state.brands.map((b) => b.name || b.brand));
  $("volume-window").textContent = state.windowName ? `(${state.windowName} windows)` : "";
}

function showStatus(status) {
  $("pipeline").textContent = status.pipeline || "";
  const badge = $("ready");
  badge.textContent = status.ready ? "ready" : "starting";
  badge.className = `badge ${status.ready ? "ready" : "starting"}`;
  $("f-records").textContent = fmt.format(status.records);
  $("f-mentions").textContent = fmt.format(status.mentions);
  $("f-alerts").textContent = fmt.format(status.alerts);
  $("f-dead").textContent = fmt.format(status.dead_letters);
  $("f-watermark").textContent = status.watermark ? status.watermark.replace("T", " ").slice(0, 19) : "–";
  const now = performance.now();
  if (state.previous && now > state.previous.at) {
    const rate = ((status.records - state.previous.records) * 1000) / (now - state.previous.at);
    $("f-rate").textContent = fmt.format(Math.max(0, Math.round(rate)));
  }
  state.previous = { records: status.records, at: now };
}

async function updateVolume() {
  const range = rangeParam();
  const top = await getJson(`/api/v1/top?limit=${TOP_BRANDS}&window=${encodeURIComponent(state.windowName)}&${range}`);
  const brands = (top.brands || []).filter((b) => b.value > 0).map((b) => b.brand);
  const series = await Promise.all(brands.map((brand) =>
    getJson(`/api/v1/series?brand=${encodeURIComponent(brand)}&window=${encodeURIComponent(state.windowName)}&${range}`)));
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.start_ms)))].sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  let points = 0;
  let total = 0;
  const ys = series.map((s) => {
    const y = new Array(xs.length).fill(null);
    for (const p of s.points) {
      y[index.get(p.start_ms)] = p.value;
      points += 1;
      total += p.value;
    }
    return y;
  });
  const data = [xs.map((x) => x / 1000), ...ys];
  const key = brands.join(",");
  const element = $("volume-chart");
  if (!state.volumePlot || state.volumeSeriesKey !== key) {
    if (state.volumePlot) state.volumePlot.destroy();
    element.replaceChildren();
    state.volumePlot = new uPlot({
      width: Math.max(320, element.clientWidth),
      height: 260,
      series: [{}, ...brands.map((brand, i) => ({
        label: (state.brands.find((b) => b.brand === brand) || {}).name || brand,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        points: { show: xs.length < 40 },
        spanGaps: false,
      }))],
      axes: [{}, { values: (u, values) => values.map((v) => fmt.format(v)) }],
    }, data, element);
    state.volumeSeriesKey = key;
  } else {
    state.volumePlot.setData(data);
  }
  $("volume").dataset.points = points;
  $("volume").dataset.total = total;
}

function bars(container, rows, valueText) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  container.replaceChildren(...rows.map((row) => {
    const line = document.createElement("div");
    line.className = "row";
    const label = document.createElement("span");
    label.textContent = row.label;
    const track = document.createElement("div");
    track.className = "track";
    for (const part of row.parts || [{ value: row.value, className: "" }]) {
      const fill = document.createElement("div");
      fill.className = `fill ${part.className}`;
      fill.style.width = `${(100 * part.value) / (row.parts ? Math.max(1, row.value) : max)}%`;
      track.append(fill);
    }
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = valueText(row);
    line.append(label, track, value);
    return line;
  }));
}

async function updateShareOfVoice() {
  const group = $("group").value;
  if (!group) return;
  const answer = await getJson(`/api/v1/share-of-voice?group=${encodeURIComponent(group)}&${rangeParam()}`);
  const rows = (answer.brands || []).map((b) => ({ label: b.name || b.brand, value: b.value, share: b.share }));
  bars($("sov-bars"), rows, (row) => `${(100 * (row.share || 0)).toFixed(1)}%`);
  $("sov").dataset.total = answer.total || 0;
}

async function updateTerms() {
  const brand = $("terms-brand").value;
  if (!brand) return;
  const answer = await getJson(`/api/v1/top-terms?brand=${encodeURIComponent(brand)}&limit=10&${rangeParam()}`);
  const terms = [...(answer.hashtags || []), ...(answer.terms || [])]
    .sort((a, b) => b.count - a.count).slice(0, 12);
  $("terms-list").replaceChildren(...terms.map((t) => {
    const item = document.createElement("li");
    item.textContent = t.term;
    const count = document.createElement("span");
    count.textContent = fmt.format(t.count);
    item.append(count);
    return item;
  }));
  $("terms").dataset.count = terms.length;
}

async function sumOf(brand, metric) {
  const answer = await getJson(`/api/v1/series?brand=${encodeURIComponent(brand)}&metric=${metric}&window=${encodeURIComponent(state.windowName)}&${rangeParam()}`);
  return (answer.points || []).reduce((sum, p) => sum + (p.value || 0), 0);
}

// Shown only when enrichment's window counters exist (engine/enrichment_fields.h).
async function updateSentiment(metrics) {
  const names = ["sentiment_positive", "sentiment_neutral", "sentiment_negative"];
  const panel = $("sentiment");
  if (!names.every((n) => metrics.includes(n))) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const top = await getJson(`/api/v1/top?limit=${TOP_BRANDS}&${rangeParam()}`);
  let grand = 0;
  const rows = [];
  for (const brand of top.brands || []) {
    const [positive, neutral, negative] = await Promise.all(names.map((n) => sumOf(brand.brand, n)));
    const total = positive + neutral + negative;
    grand += total;
    rows.push({
      label: brand.name || brand.brand, value: total, positive, negative,
      parts: [{ value: positive, className: "positive" }, { value: neutral, className: "neutral" },
              { value: negative, className: "negative" }],
    });
  }
  bars($("sentiment-bars"), rows, (row) => `+${fmt.format(row.positive)} / −${fmt.format(row.negative)}`);
  panel.dataset.total = grand;
}

// Inquiries per brand (questions and complaints addressed to its profiles, `unanswered` rules)
// and how many of them went unanswered within the rule's `within`, with the p90 time to the first
// answer — window metrics (docs/alerts.md, "Response times"). Shown when the build has them;
// "no inquiries" until an unanswered rule has seen one.
async function updateUnanswered(metrics) {
  const panel = $("unanswered");
  if (!metrics.includes("inquiries_unanswered")) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const top = (metric, limit) => getJson(`/api/v1/top?metric=${metric}&limit=${limit}&${rangeParam()}`);
  const [inquiries, unanswered, p90] = await Promise.all([
    top("inquiries", 50), top("inquiries_unanswered", 50), top("response_time_p90_seconds", 50)]);
  const valueOf = (answer) => new Map((answer.brands || []).map((b) => [b.brand, b.value || 0]));
  const missed = valueOf(unanswered);
  const slow = valueOf(p90);
  // The answers' totals are over the brands listed: the same 50 for both counts.
  const rows = (inquiries.brands || []).filter((b) => b.value > 0).slice(0, 8).map((b) => {
    const open = Math.min(b.value, missed.get(b.brand) || 0);
    return {
      label: b.name || b.brand, value: b.value, unanswered: open, p90: slow.get(b.brand) || 0,
      parts: [{ value: open, className: "negative" }, { value: b.value - open, className: "neutral" }],
    };
  });
  const list = $("unanswered-bars");
  if (!rows.length) {
    const empty = document.createElement("div");
    empty.className = "empty";
    empty.textContent = "no inquiries in range (an unanswered rule counts them)";
    list.replaceChildren(empty);
  } else {
    bars(list, rows, (row) => `${fmt.format(row.unanswered)}/${fmt.format(row.value)}` +
      (row.p90 ? ` · p90 ${durationText(row.p90 * 1000)}` : ""));
  }
  panel.dataset.total = unanswered.total || 0;
  panel.dataset.inquiries = inquiries.total || 0;
  panel.dataset.rows = rows.length;
}

function alertText(alert) {
  if (!alert || typeof alert !== "object") return { head: "alert", evidence: "" };
  const window = typeof alert.window === "object" && alert.window ? alert.window.name : alert.window;
  const metric = typeof alert.metric === "object" && alert.metric ? alert.metric.name : alert.metric;
  const head = alert.summary ||
    `${alert.brand_name || alert.brand}: ${metric} ${alert.value} > ${alert.threshold} (${alert.rule}, ${window} from ${alert.window_start || ""})`;
  let evidence = "";
  if (Array.isArray(alert.evidence) && alert.evidence.length) {
    evidence = alert.evidence.slice(0, 3).map((p) => `@${p.author_handle || p.author_id || "?"}: ${p.text || ""}`).join("\n");
  } else {
    const figures = ["mentions", "unique_authors", "reach"].filter((k) => k in alert).map((k) => `${k} ${alert[k]}`);
    evidence = figures.join(" · ");
  }
  return { head, evidence };
}

async function updateAlerts() {
  const answer = await getJson(`/ops/alerts?after=${state.lastAlert}`);
  const feed = $("alert-feed");
  if (answer.alerts.length && feed.querySelector(".empty")) feed.replaceChildren();
  for (const entry of answer.alerts) {
    const { head, evidence } = alertText(entry.alert);
    const item = document.createElement("li");
    const title = document.createElement("div");
    title.className = "head";
    title.textContent = head;
    const detail = document.createElement("div");
    detail.className = "evidence";
    detail.textContent = evidence;
    item.append(title, detail);
    feed.prepend(item);
    state.alertCount += 1;
  }
  while (feed.children.length > 100) feed.lastChild.remove();
  state.lastAlert = answer.last;
  $("alerts").dataset.count = state.alertCount;
}

async function tick() {
  try {
    const status = await getJson("/ops/status");
    showStatus(status);
    if (!state.brands.length || state.updates % 15 === 0) await loadBrands();
    const metrics = status.window_metrics || [];
    const parts = [updateVolume(), updateShareOfVoice(), updateTerms(), updateAlerts(),
                   updateSentiment(metrics), updateUnanswered(metrics)];
    const results = await Promise.allSettled(parts);
    for (const result of results) {
      if (result.status === "rejected") console.warn(result.reason);
    }
    state.updates += 1;
    document.body.dataset.updates = state.updates;
  } catch (error) {
    $("ready").textContent = "unreachable";
    $("ready").className = "badge down";
    console.warn(error);
  }
  setTimeout(tick, POLL_MS);
}

tick();
