// The page of `popfusion serve`: one post in, its score, why, and when. No libraries:
// the charts are plain SVG and a coloured table, so the page works without internet.
"use strict";

const $ = (id) => document.getElementById(id);

async function call(path, post) {
  const response = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                                      body: JSON.stringify(post)});
  const body = await response.json();
  if (!response.ok) {
    const detail = Array.isArray(body.detail)
      ? body.detail.map((d) => `${d.loc.filter((x) => x !== "body").join(".")}: ${d.msg}`).join("; ")
      : body.detail;
    throw new Error(detail);
  }
  return body;
}

function readImage(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function draft() {
  const post = {};
  for (const id of ["title", "tags", "user_id", "category"]) {
    if ($(id).value.trim()) post[id] = $(id).value.trim();
  }
  post.posted_at = $("posted_at").value + ":00Z";
  const file = $("image").files[0];
  if (file) post.image_base64 = await readImage(file);
  return post;
}

function bars(families) {
  const svg = $("families");
  const entries = Object.entries(families);
  // labels in the first `left` pixels, then room for a value on each side of the bars
  const width = svg.clientWidth || 900, row = 26, left = 210, room = 70;
  const half = (width - left - 2 * room) / 2, mid = left + room + half;
  const biggest = Math.max(...entries.map(([, v]) => Math.abs(v)), 1e-9);
  const scale = half / biggest;
  svg.setAttribute("height", entries.length * row + 10);
  svg.innerHTML = `<line x1="${mid}" x2="${mid}" y1="0" y2="${entries.length * row}" stroke="#888"/>` +
    entries.map(([name, value], i) => {
      const w = Math.abs(value) * scale, x = value < 0 ? mid - w : mid, y = i * row + 4;
      const colour = value < 0 ? "#dc2626" : "#16a34a";
      return `<g class="bar"><text x="${left - 8}" y="${y + 13}" text-anchor="end">${name}</text>` +
        `<rect x="${x}" y="${y}" width="${Math.max(w, 1)}" height="${row - 8}" fill="${colour}"/>` +
        `<text x="${value < 0 ? x - 4 : x + w + 4}" y="${y + 13}" text-anchor="${value < 0 ? "end" : "start"}">` +
        `${value >= 0 ? "+" : ""}${value.toFixed(3)}</text></g>`;
    }).join("");
}

function heatmap(week, best) {
  const values = week.scores.flat().filter((v) => v !== null);
  const low = Math.min(...values), high = Math.max(...values);
  const colour = (v) => {
    if (v === null) return "#f1f5f9";
    const t = high > low ? (v - low) / (high - low) : 0.5;
    return `hsl(${220 - 180 * t}, 70%, ${92 - 45 * t}%)`;
  };
  const header = "<tr><th></th>" + week.hours.map((h) => `<th>${h}</th>`).join("") + "</tr>";
  const rows = week.weekdays.map((day, i) => "<tr><th>" + day + "</th>" + week.scores[i].map((v, j) =>
    `<td data-day="${day}" data-hour="${week.hours[j]}" style="background:${colour(v)}"` +
    `${best.has(day + week.hours[j]) ? ' class="best"' : ""}>${v === null ? "" : v.toFixed(2)}</td>`).join("") +
    "</tr>").join("");
  $("week").innerHTML = header + rows;
}

async function score(event) {
  event.preventDefault();
  $("score").disabled = true;
  $("error").hidden = true;
  try {
    const post = await draft();
    const [predicted, explained, advised] = await Promise.all(
      [call("/predict", post), call("/explain", post), call("/advise", post)]);
    const s = predicted.scores[0];
    $("score-value").textContent = s.score.toFixed(3);
    $("interval").textContent = `80% interval ${s.low.toFixed(2)} to ${s.high.toFixed(2)}` +
      (predicted.unknown_users ? " (an author the model has not seen: scored as a new user)" : "");
    const why = explained.explanations[0];
    $("why").textContent = `the average post scores ${why.base.toFixed(3)}; this one's feature families move it by:`;
    bars(why.families);
    const advice = advised.advice[0];
    $("zone").textContent = advice.timezone;
    const days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const best = new Set(advice.best.map((b) => {
      const t = new Date(b.local_time.slice(0, 19) + "Z");
      return days[(t.getUTCDay() + 6) % 7] + t.getUTCHours();
    }));
    $("best").textContent = "Best: " + advice.best.map((b) =>
      `${b.local_time.slice(0, 16).replace("T", " ")} (${b.gain >= 0 ? "+" : ""}${b.gain.toFixed(3)})`).join(", ");
    heatmap(advice.week, best);
    $("results").hidden = false;
  } catch (err) {
    $("error").textContent = err.message;
    $("error").hidden = false;
  } finally {
    $("score").disabled = false;
  }
}

async function start() {
  const now = new Date();
  now.setUTCMinutes(0, 0, 0);
  $("posted_at").value = now.toISOString().slice(0, 16);
  $("post").addEventListener("submit", score);
  const about = await (await fetch("/model")).json();
  $("about").textContent = `Recipe ${about.recipe.name}, trained on ${about.trained_on_posts.toLocaleString()} ` +
    `posts; hold-out SRC ${about.holdout.src.toFixed(3)}, MAE ${about.holdout.mae.toFixed(3)}.`;
  $("authors").innerHTML = about.inputs.authors.map((u) => `<option value="${u}">`).join("");
  if (about.inputs.authors.length && !$("user_id").value) $("user_id").value = about.inputs.authors[0];
}

start();
