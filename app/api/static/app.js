// Bảng xếp hạng trực tiếp: the 34 provinces, refreshed from the server-sent-events stream.
// Everything is built with textContent (names come from the ledger, never parsed as HTML).
"use strict";

const GROUPS = ["G1", "G2", "G3a", "G3b", "G4", "G5"];
const KINDS = { department: "Sở, ban, ngành", commune: "Xã, phường" };
const state = { period: null, rulebook: "vn-766", ranks: {}, rows: [], source: null,
                province: null, unit: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function points(value) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(2);
}

function slug(text) {
  return (text || "none").normalize("NFD").replace(/[\u0300-\u036f]/g, "")
    .replace(/đ/g, "d").toLowerCase().replace(/[^a-z]+/g, "-").replace(/^-|-$/g, "");
}

function band(label) {
  return el("span", { class: "band b-" + slug(label) }, label || "—");
}

function localTime(text) {
  if (!text) return "—";
  return text.replace("T", " ").replace(/(\.\d+)?(\+07:00)$/, " (giờ VN)");
}

async function getJSON(url, headers) {
  const response = await fetch(url, { headers: headers || {} });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.message || response.statusText),
                                        { status: response.status });
  return body;
}

function query(extra) {
  const params = new URLSearchParams({ rulebook: state.rulebook, ...extra });
  if (state.period) params.set("period", state.period);
  return params.toString();
}

// -- the ranking of the 34 provinces -------------------------------------------------------
function showRanking(data) {
  const body = document.querySelector("#ranking tbody");
  const before = state.ranks;
  const totals = Object.fromEntries(state.rows.map((r) => [r.unit, points(r.total)]));
  const rows = data.rows || [];
  body.replaceChildren(...rows.map((row) => {
    const groups = Object.fromEntries((row.groups || []).map((g) => [g.code, g.points]));
    const was = before[row.unit];
    let mark = "•", cls = "mv";
    if (was && row.rank && was !== row.rank) {
      mark = row.rank < was ? "▲" : "▼";
      cls += row.rank < was ? " up" : " down";
    }
    const total = points(row.total);
    const tr = el("tr", { "data-unit": row.unit, onclick: () => openProvince(row) },
      el("td", { class: "num rank" }, row.rank ?? "—"),
      el("td", { class: cls, title: was ? `trước: ${was}` : "" }, mark),
      el("td", { class: "name" }, row.unit_name),
      el("td", { class: "num total" + (totals[row.unit] && totals[row.unit] !== total
                                       ? " changed" : "") }, total),
      el("td", {}, band(row.band)),
      ...GROUPS.map((code) => el("td", { class: "num grp" }, points(groups[code]))));
    if (state.province && state.province.unit === row.unit) tr.classList.add("open");
    return tr;
  }));
  if (state.rows.length) state.ranks = Object.fromEntries(state.rows.map((r) => [r.unit, r.rank]));
  state.rows = rows;
  document.querySelector("#moment").textContent = rows.length
    ? `Kỳ ${data.period} · tính đến ${localTime(data.as_of)} · theo sổ cái đến vị trí ${data.position}`
    : `Kỳ ${data.period}: chưa có điểm (bộ chạy chưa ghi bảng xếp hạng)`;
  document.querySelector("#csv").href = "/v1/rankings?" + query({ format: "csv" });
}

function connect() {
  if (state.source) state.source.close();
  const live = document.querySelector("#live");
  const source = new EventSource("/v1/stream/rankings?" + query({ kind: "province" }));
  state.source = source;
  source.addEventListener("ranking", (event) => {
    live.textContent = "● Trực tiếp";
    live.classList.remove("off");
    showRanking(JSON.parse(event.data));
    if (state.province) loadProvinceTables(state.province);
    if (state.unit) refreshUnit();
  });
  source.addEventListener("open", () => { live.textContent = "● Trực tiếp"; live.classList.remove("off"); });
  source.addEventListener("error", () => { live.textContent = "● Mất kết nối, đang thử lại…"; live.classList.add("off"); });
}

// -- a province: its departments and communes ---------------------------------------------
async function openProvince(row) {
  state.province = row;
  document.querySelector("#departments").replaceChildren();
  document.querySelector("#communes").replaceChildren();
  document.querySelectorAll("#ranking tbody tr").forEach((tr) =>
    tr.classList.toggle("open", tr.dataset.unit === row.unit));
  const panel = document.querySelector("#province");
  panel.hidden = false;
  const title = document.querySelector("#province-title");
  title.replaceChildren(row.unit_name + " — ",
    el("button", { type: "button", class: "link", onclick: () => openUnit(row.unit, row.unit_name) },
       "chi tiết điểm của tỉnh"));
  await loadProvinceTables(row);
  panel.scrollIntoView({ behavior: "smooth", block: "start" });
}

// the departments' and communes' tables of the open province (again after each update)
async function loadProvinceTables(row) {
  for (const kind of ["department", "commune"]) {
    const table = document.querySelector(kind === "department" ? "#departments" : "#communes");
    if (!table.rows.length) table.replaceChildren(el("caption", {}, "Đang tải…"));
    try {
      const data = await getJSON("/v1/rankings?" + query({ kind, province: row.unit }));
      table.replaceChildren(unitsHead(), el("tbody", {}, ...data.rows.map((unit) =>
        el("tr", { "data-unit": unit.unit, onclick: () => openUnit(unit.unit, unit.unit_name) },
          el("td", { class: "num" }, unit.rank ?? "—"), el("td", { class: "name" }, unit.unit_name),
          el("td", { class: "num" }, points(unit.total)), el("td", {}, band(unit.band))))));
      if (!data.rows.length) table.append(el("caption", {}, `Chưa có ${KINDS[kind].toLowerCase()} nào được chấm điểm.`));
    } catch (error) {
      table.replaceChildren(el("caption", {}, "Không tải được: " + error.message));
    }
  }
}

function unitsHead() {
  return el("thead", {}, el("tr", {}, el("th", { class: "num" }, "Hạng"), el("th", {}, "Đơn vị"),
    el("th", { class: "num" }, "Tổng"), el("th", {}, "Xếp loại")));
}

// -- a unit: its indicators, its total over time, the explain lists --------------------------
async function openUnit(code, name) {
  state.unit = { code, name };
  document.querySelector("#unit").hidden = false;
  document.querySelector("#unit-title").textContent = `${name} (${code})`;
  document.querySelector("#explain").replaceChildren();
  await refreshUnit();
  document.querySelector("#unit").scrollIntoView({ behavior: "smooth", block: "start" });
}

async function refreshUnit() {
  const { code } = state.unit;
  const summary = document.querySelector("#unit-summary");
  const table = document.querySelector("#indicators");
  try {
    const score = await getJSON(`/v1/scores/${encodeURIComponent(code)}?` + query({}));
    summary.replaceChildren(`Tổng điểm ${points(score.total)}/100 · `, band(score.band),
      ` · hạng ${score.rank ?? "—"} · kỳ ${score.period} · vị trí sổ cái ${score.position}`);
    const rows = [];
    for (const group of score.groups) {
      rows.push(el("tr", { class: "group" }, el("th", {}, group.code), el("th", {}, group.name),
        el("th", { class: "num" }, ""), el("th", { class: "num" }, points(group.points)),
        el("th", { class: "num" }, points(group.max)), el("th", {}, "")));
      for (const i of group.indicators) {
        rows.push(el("tr", { "data-indicator": i.code },
          el("td", {}, i.code), el("td", { class: "name" }, i.name + (i.applicable ? "" : " (không áp dụng)")),
          el("td", { class: "num" }, i.applicable ? `${i.numerator}/${i.denominator}` : "—"),
          el("td", { class: "num" }, points(i.points)), el("td", { class: "num" }, points(i.max)),
          el("td", {}, i.applicable ? el("button", { type: "button", class: "link",
            onclick: () => explain(code, i.code, i.name) }, "giải trình") : "")));
      }
    }
    table.replaceChildren(el("thead", {}, el("tr", {}, el("th", {}, "Mã"), el("th", {}, "Chỉ số"),
      el("th", { class: "num" }, "Tử/mẫu"), el("th", { class: "num" }, "Điểm"),
      el("th", { class: "num" }, "Tối đa"), el("th", {}, ""))), el("tbody", {}, ...rows));
  } catch (error) {
    summary.textContent = "Chưa có điểm: " + error.message;
    table.replaceChildren();
  }
  drawChart(code);
}

async function drawChart(code) {
  const box = document.querySelector("#chart");
  let data;
  try {
    data = await getJSON(`/v1/scores/${encodeURIComponent(code)}/series?` + query({}));
  } catch (error) {
    box.replaceChildren(el("p", { class: "none" }, "Không tải được: " + error.message));
    return;
  }
  const pts = data.points;
  if (!pts.length) { box.replaceChildren(el("p", { class: "none" }, "Chưa có lịch sử điểm.")); return; }
  const W = 600, H = 180, L = 36, B = 22, ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `Tổng điểm của ${code} theo thời gian`);
  const add = (tag, attrs, text) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    svg.append(node); return node;
  };
  const x = (i) => L + (pts.length === 1 ? (W - L - 8) / 2 : i * (W - L - 8) / (pts.length - 1));
  const y = (v) => 6 + (H - B - 6) * (1 - v / 100);
  for (const v of [0, 25, 50, 75, 100]) {
    add("line", { x1: L, x2: W - 8, y1: y(v), y2: y(v), stroke: "#e3e7eb" });
    add("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#5b6470" }, v);
  }
  add("polyline", { points: pts.map((p, i) => `${x(i)},${y(p.total)}`).join(" "), fill: "none",
                    stroke: "#0b4f8a", "stroke-width": 2 });
  pts.forEach((p, i) => add("circle", { cx: x(i), cy: y(p.total), r: 2.5, fill: "#0b4f8a" })
    .append(Object.assign(document.createElementNS(ns, "title"),
      { textContent: `${localTime(p.as_of)}: ${points(p.total)} (vị trí ${p.position})` })));
  add("text", { x: L, y: H - 4, "font-size": 11, fill: "#5b6470" }, localTime(pts[0].as_of));
  add("text", { x: W - 8, y: H - 4, "font-size": 11, fill: "#5b6470", "text-anchor": "end" },
      localTime(pts[pts.length - 1].as_of));
  box.replaceChildren(svg);
}

async function explain(unit, indicator, name) {
  const box = document.querySelector("#explain");
  const key = document.querySelector("#api-key").value.trim() || sessionStorage.getItem("apiKey");
  box.replaceChildren(el("h3", {}, `Giải trình chỉ số ${indicator} ${name}`));
  if (!key) {
    box.append(el("p", { class: "why" }, "Danh sách hồ sơ chỉ dành cho kiểm tra viên và cơ quan: nhập khóa API ở dưới."));
    document.querySelector("details.key").open = true;
    return;
  }
  sessionStorage.setItem("apiKey", key);
  try {
    const data = await getJSON("/v1/explain?" + query({ unit, indicator }), { Authorization: "Bearer " + key });
    box.append(el("p", {}, `Tử số ${data.numerator} / mẫu số ${data.denominator} · tính đến ${localTime(data.evaluated_at)}`));
    if (data.empty_reason) box.append(el("p", { class: "why" }, data.empty_reason));
    box.append(el("ul", {}, ...data.items.map((item) =>
      el("li", {}, `${item.numerator ? "✓" : "✗"} ${item.code} — ${item.reason}`))));
  } catch (error) {
    box.append(el("p", { class: "why" }, `Không xem được (${error.status || ""}): ${error.message}`));
  }
}

// -- choosers -----------------------------------------------------------------------------
async function loadChoices() {
  const periodBox = document.querySelector("#period");
  const rulebookBox = document.querySelector("#rulebook");
  let info = { periods: [], current: null, rulebooks: ["vn-766"] };
  try { info = await getJSON("/v1/periods?" + new URLSearchParams({ rulebook: state.rulebook })); }
  catch (error) { /* no live tables yet: the stream says so */ }
  const periods = [...new Set([...(info.periods || []), info.current].filter(Boolean))].sort().reverse();
  if (!state.period) {
    // the current month when it is ranked, else the latest month ranked
    const months = (info.periods || []).filter((p) => /^\d{4}-\d{2}$/.test(p)).sort();
    state.period = months.includes(info.current) || !months.length ? info.current
      : months[months.length - 1];
  }
  periodBox.replaceChildren(...periods.map((p) => el("option", { value: p }, p)));
  periodBox.value = state.period;
  rulebookBox.replaceChildren(...info.rulebooks.map((r) => el("option", { value: r }, r)));
  rulebookBox.value = state.rulebook;
}

function closePanel(id) {
  document.querySelector("#" + id).hidden = true;
  if (id === "unit") state.unit = null;
  if (id === "province") {
    state.province = null;
    document.querySelectorAll("#ranking tr.open").forEach((tr) => tr.classList.remove("open"));
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  document.querySelectorAll("[data-close]").forEach((button) =>
    button.addEventListener("click", () => closePanel(button.dataset.close)));
  document.querySelector("#period").addEventListener("change", (event) => {
    state.period = event.target.value; state.ranks = {}; state.rows = []; connect();
    if (state.province) openProvince(state.province);
    if (state.unit) refreshUnit();
  });
  document.querySelector("#rulebook").addEventListener("change", (event) => {
    state.rulebook = event.target.value; state.ranks = {}; state.rows = []; connect();
    if (state.province) openProvince(state.province);
    if (state.unit) refreshUnit();
  });
  await loadChoices();
  connect();
});
