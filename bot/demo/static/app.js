/* costbot demo workspace: a Slack-like page over the local Slack stand-in.
 * Vanilla JS, no build step. State comes from GET /ui/api/state, changes from the
 * long poll GET /ui/api/events?after=<seq>. Everything shown is HTML-escaped. */
(function () {
  "use strict";

  const S = {
    seq: 0,
    team: {},
    bot: {},
    users: [],
    usersById: {},
    channels: [],
    channelsById: {},
    dms: {},
    messages: new Map(), // ts -> message
    homes: {},
    modals: {},
    me: null,
    route: { kind: "channel", id: null, tab: "home" },
    unread: {},
    pendingCommand: null,
    stick: true,
  };

  const $ = (sel, root) => (root || document).querySelector(sel);

  /* ------------------------------------------------------------ escaping & mrkdwn */

  function esc(s) {
    return String(s == null ? "" : s)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }
  // Slack escapes &, < and > in message text; undo that before we escape for HTML.
  function unent(s) {
    return String(s).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  const EMOJI = {
    white_check_mark: "✅", heavy_check_mark: "✔️", check: "✔️", warning: "⚠️", x: "❌",
    no_entry: "⛔", no_entry_sign: "🚫", hourglass_flowing_sand: "⏳", hourglass: "⌛",
    chart_with_upwards_trend: "📈", chart_with_downwards_trend: "📉", bar_chart: "📊",
    moneybag: "💰", money_with_wings: "💸", dollar: "💵", euro: "💶", pound: "💷",
    credit_card: "💳", bulb: "💡", robot_face: "🤖", rotating_light: "🚨", zzz: "💤",
    arrow_up: "⬆️", arrow_down: "⬇️", arrow_right: "➡️", arrow_left: "⬅️",
    arrow_upper_right: "↗️", arrow_lower_right: "↘️", small_red_triangle: "🔺",
    small_red_triangle_down: "🔻", fire: "🔥", tada: "🎉", rocket: "🚀", wrench: "🔧",
    hammer_and_wrench: "🛠️", gear: "⚙️", mag: "🔍", mag_right: "🔎", memo: "📝",
    clipboard: "📋", calendar: "📅", date: "📅", clock1: "🕐", alarm_clock: "⏰",
    stopwatch: "⏱️", bell: "🔔", no_bell: "🔕", lock: "🔒", unlock: "🔓", key: "🔑",
    information_source: "ℹ️", question: "❓", grey_question: "❔", exclamation: "❗",
    heavy_exclamation_mark: "❗", bangbang: "‼️", red_circle: "🔴", large_green_circle: "🟢",
    green_circle: "🟢", yellow_circle: "🟡", large_orange_circle: "🟠", orange_circle: "🟠",
    large_blue_circle: "🔵", blue_circle: "🔵", white_circle: "⚪", black_circle: "⚫",
    thumbsup: "👍", "+1": "👍", thumbsdown: "👎", "-1": "👎", eyes: "👀", wave: "👋",
    pray: "🙏", clap: "👏", muscle: "💪", ok_hand: "👌", raised_hands: "🙌",
    thinking_face: "🤔", smile: "😄", slightly_smiling_face: "🙂", sweat_smile: "😅",
    cloud: "☁️", sunny: "☀️", zap: "⚡", snowflake: "❄️", computer: "💻",
    desktop_computer: "🖥️", floppy_disk: "💾", package: "📦", inbox_tray: "📥",
    outbox_tray: "📤", link: "🔗", pushpin: "📌", round_pushpin: "📍", scissors: "✂️",
    broom: "🧹", recycle: "♻️", seedling: "🌱", leaves: "🍃", boom: "💥",
    stop_sign: "🛑", octagonal_sign: "🛑", construction: "🚧", traffic_light: "🚥",
    checkered_flag: "🏁", triangular_flag_on_post: "🚩", trophy: "🏆", star: "⭐",
    sparkles: "✨", heavy_plus_sign: "➕", heavy_minus_sign: "➖", heavy_dollar_sign: "💲",
    repeat: "🔁", arrows_counterclockwise: "🔄", pause_button: "⏸️",
    black_right_pointing_triangle_with_double_vertical_bar: "⏯️", arrow_forward: "▶️",
    double_vertical_bar: "⏸️", stop_button: "⏹️", fast_forward: "⏩", rewind: "⏪",
    test_tube: "🧪", brain: "🧠", microscope: "🔬", satellite: "📡", electric_plug: "🔌",
    battery: "🔋", shield: "🛡️", busts_in_silhouette: "👥", bust_in_silhouette: "👤",
    speech_balloon: "💬", thought_balloon: "💭", email: "📧", envelope: "✉️",
    page_facing_up: "📄", bookmark_tabs: "📑", books: "📚", file_folder: "📁",
    card_index_dividers: "🗂️", chart: "💹", scales: "⚖️", balance_scale: "⚖️",
    building_construction: "🏗️", factory: "🏭", hospital: "🏥", bank: "🏦",
    large_blue_diamond: "🔷", small_blue_diamond: "🔹", small_orange_diamond: "🔸",
    white_large_square: "⬜", black_large_square: "⬛", new: "🆕", up: "🆙", sos: "🆘",
    point_right: "👉", point_left: "👈", point_up: "☝️", point_down: "👇",
    // the rest of the codes costbot writes (grep the handlers for :[a-z_]+:)
    wastebasket: "🗑️", leftwards_arrow_with_hook: "↩️", arrow_right_hook: "↪️",
    raising_hand: "🙋", person_raising_hand: "🙋", raised_hand: "✋", hand: "✋",
    ballot_box_with_check: "☑️", heavy_multiplication_x: "✖️", arrows_clockwise: "🔃",
    spiral_calendar_pad: "🗓️", calendar_spiral: "🗓️", label: "🏷️", pencil: "📝", pencil2: "✏️",
    crescent_moon: "🌙", sunrise: "🌅", city_sunrise: "🌇", sleeping: "😴", dart: "🎯",
    receipt: "🧾", coin: "🪙", ok: "🆗", mailbox: "📫", hourglass_done: "⌛",
    clock2: "🕑", clock3: "🕒", clock4: "🕓", clock5: "🕔", clock6: "🕕", clock7: "🕖",
    clock8: "🕗", clock9: "🕘", clock10: "🕙", clock11: "🕚", clock12: "🕛",
  };

  function emojify(s) {
    return s.replace(/:([a-z0-9_+\-]+):/g, (m, name) => (EMOJI[name] ? EMOJI[name] : m));
  }

  function userName(id) {
    if (id === S.bot.user_id) return S.bot.name || "costbot";
    if (id === "USLACKBOT") return "Slackbot";
    const u = S.usersById[id];
    return u ? u.name : id;
  }
  function realName(id) {
    if (id === S.bot.user_id) return S.bot.name || "costbot";
    if (id === "USLACKBOT") return "Slackbot";
    const u = S.usersById[id];
    return u ? u.real_name : id;
  }

  function safeUrl(url) {
    const u = String(url || "").trim();
    if (/^(https?:|mailto:)/i.test(u) || u.startsWith("/")) return u;
    return null;
  }

  function renderAngle(inner) {
    const bar = inner.indexOf("|");
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? inner.slice(bar + 1) : null;
    if (target[0] === "@") {
      const id = target.slice(1);
      return `<span class="mention" data-user-ref="${esc(id)}">@${esc(label || userName(id))}</span>`;
    }
    if (target[0] === "#") {
      const id = target.slice(1);
      const ch = S.channelsById[id];
      const name = label || (ch ? ch.name : id);
      return `<a class="mention channel-ref" href="#/${esc(id)}" data-channel-ref="${esc(id)}">#${esc(name)}</a>`;
    }
    if (target[0] === "!") {
      const special = target.slice(1).split("^")[0];
      if (["here", "channel", "everyone"].includes(special)) {
        return `<span class="mention">@${esc(special)}</span>`;
      }
      if (special === "subteam") return `<span class="mention">${esc(label || "@group")}</span>`;
      return esc(unent(label || target));
    }
    const url = /^(https?:|mailto:)/i.test(unent(target).trim()) ? unent(target).trim() : null;
    const text = label != null ? unent(label) : unent(target);
    if (!url) return esc("<" + unent(inner) + ">"); // not a link: show it as typed
    return `<a href="${esc(url)}" target="_blank" rel="noopener noreferrer">${esc(text)}</a>`;
  }

  function inlineFormat(s) {
    // s is already HTML-escaped; the markers * _ ~ are not special in HTML.
    s = s.replace(/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?!\w)/g, "$1<b>$2</b>");
    s = s.replace(/(^|[^\w_])_(?=\S)([^_\n]*?\S)_(?!\w)/g, "$1<i>$2</i>");
    s = s.replace(/(^|[^\w~])~(?=\S)([^~\n]*?\S)~(?!\w)/g, "$1<s>$2</s>");
    return s;
  }

  function mrkdwn(src) {
    if (src == null || src === "") return "";
    const slots = [];
    const hold = (html) => "\u0000" + (slots.push(html) - 1) + "\u0000";
    let s = String(src);
    s = s.replace(/```([\s\S]*?)```/g, (_, code) =>
      hold(`<pre class="code-block">${esc(unent(code.replace(/^\n/, "")))}</pre>`));
    s = s.replace(/`([^`\n]+)`/g, (_, code) => hold(`<code>${esc(unent(code))}</code>`));
    s = s.replace(/<([^<>\n]+)>/g, (_, inner) => hold(renderAngle(inner)));
    const lines = s.split("\n").map((line) => {
      const m = /^(?:&gt;|>)\s?(.*)$/.exec(line);
      const body = m ? m[1] : line;
      return { quote: !!m, html: inlineFormat(emojify(esc(unent(body)))) };
    });
    // quote lines are blocks of their own: no <br> after them
    let out = "";
    lines.forEach((l, i) => {
      if (l.quote) out += `<span class="quote">${l.html || "&nbsp;"}</span>`;
      else out += l.html + (i < lines.length - 1 ? "<br>" : "");
    });
    for (let guard = 0; guard < 3 && out.includes("\u0000"); guard++) {
      out = out.replace(/\u0000(\d+)\u0000/g, (_, i) => slots[Number(i)]);
    }
    return out;
  }

  function textObj(t) {
    if (!t) return "";
    if (typeof t === "string") return mrkdwn(t);
    if (t.type === "plain_text") return t.emoji === false ? esc(t.text) : emojify(esc(t.text));
    return mrkdwn(t.text);
  }
  function plain(t) {
    if (!t) return "";
    return typeof t === "string" ? esc(t) : emojify(esc(t.text || ""));
  }

  /* ------------------------------------------------------------ Block Kit */

  function attrs(block, el) {
    return `data-action-id="${esc(el.action_id || "")}" data-block-id="${esc(block.block_id || "")}"`;
  }

  function imageSrc(url) {
    const u = safeUrl(url);
    return u ? esc(u) : "";
  }

  function renderButton(block, el) {
    const style = el.style === "primary" ? " btn-primary" : el.style === "danger" ? " btn-danger" : "";
    const value = el.value != null ? ` data-value="${esc(el.value)}"` : "";
    const url = el.url && safeUrl(el.url) ? ` data-url="${esc(el.url)}"` : "";
    const confirm = el.confirm ? ` data-confirm="${esc(JSON.stringify(el.confirm))}"` : "";
    return `<button type="button" class="btn${style}" ${attrs(block, el)}${value}${url}${confirm}>${plain(el.text)}</button>`;
  }

  function optionsOf(el) {
    let opts = (el.options || []).slice();
    (el.option_groups || []).forEach((g) => { opts = opts.concat(g.options || []); });
    return opts;
  }

  function renderSelect(block, el, inInput) {
    const opts = optionsOf(el);
    const initial = el.initial_option ? el.initial_option.value : null;
    const ph = el.type === "overflow" ? "⋯" : (el.placeholder ? el.placeholder.text : "Select…");
    const optHtml = opts
      .map((o) => `<option value="${esc(o.value)}"${o.value === initial ? " selected" : ""}>${plain(o.text)}</option>`)
      .join("");
    const kind = inInput ? "data-input" : "data-select";
    return `<select class="select${el.type === "overflow" ? " overflow" : ""}" ${kind} data-type="${esc(el.type)}" ${attrs(block, el)}>` +
      `<option value="" ${initial ? "" : "selected"} disabled>${esc(ph)}</option>${optHtml}</select>`;
  }

  function renderElement(block, el, inInput) {
    if (!el) return "";
    switch (el.type) {
      case "button":
        return renderButton(block, el);
      case "image":
        return `<img class="accessory-image" src="${imageSrc(el.image_url)}" alt="${esc(el.alt_text || "")}">`;
      case "static_select":
      case "overflow":
        return renderSelect(block, el, inInput);
      case "plain_text_input": {
        const ph = el.placeholder ? ` placeholder="${esc(el.placeholder.text)}"` : "";
        const val = el.initial_value || "";
        if (el.multiline) {
          return `<textarea class="input" rows="3" data-input data-type="plain_text_input" ${attrs(block, el)}${ph}>${esc(val)}</textarea>`;
        }
        return `<input class="input" type="text" data-input data-type="plain_text_input" ${attrs(block, el)}${ph} value="${esc(val)}">`;
      }
      case "number_input": {
        const val = el.initial_value || "";
        return `<input class="input" type="number" step="any" data-input data-type="number_input" ${attrs(block, el)} value="${esc(val)}">`;
      }
      case "datepicker":
        return `<input class="input" type="date" data-input data-type="datepicker" ${attrs(block, el)} value="${esc(el.initial_date || "")}">`;
      case "radio_buttons":
      case "checkboxes": {
        const type = el.type === "radio_buttons" ? "radio" : "checkbox";
        const initial = new Set(
          (el.initial_options || (el.initial_option ? [el.initial_option] : [])).map((o) => o.value));
        const name = `${block.block_id || ""}::${el.action_id || ""}`;
        return `<div class="choices" data-input data-type="${esc(el.type)}" ${attrs(block, el)}>` +
          optionsOf(el).map((o) =>
            `<label class="choice"><input type="${type}" name="${esc(name)}" value="${esc(o.value)}"${initial.has(o.value) ? " checked" : ""}> ${textObj(o.text)}</label>`).join("") +
          `</div>`;
      }
      default:
        return `<span class="unsupported">[${esc(el.type)}]</span>`;
    }
  }

  function renderBlock(block, ctx) {
    if (!block || typeof block !== "object") return "";
    const bid = block.block_id ? ` data-block="${esc(block.block_id)}"` : "";
    switch (block.type) {
      case "header":
        return `<div class="blk blk-header"${bid}>${plain(block.text)}</div>`;
      case "divider":
        return `<hr class="blk blk-divider">`;
      case "section": {
        let inner = "";
        if (block.text) inner += `<div class="section-text">${textObj(block.text)}</div>`;
        if (block.fields && block.fields.length) {
          inner += `<div class="section-fields">${block.fields.map((f) => `<div class="field">${textObj(f)}</div>`).join("")}</div>`;
        }
        const acc = block.accessory ? `<div class="section-accessory">${renderElement(block, block.accessory, false)}</div>` : "";
        return `<div class="blk blk-section"${bid}><div class="section-main">${inner}</div>${acc}</div>`;
      }
      case "context":
        return `<div class="blk blk-context"${bid}>${(block.elements || []).map((el) =>
          el.type === "image"
            ? `<img class="context-image" src="${imageSrc(el.image_url)}" alt="${esc(el.alt_text || "")}">`
            : `<span class="context-text">${textObj(el)}</span>`).join("")}</div>`;
      case "image": {
        const title = block.title ? `<div class="image-title">${plain(block.title)}</div>` : "";
        const src = block.image_url || (block.slack_file && block.slack_file.url) || "";
        return `<figure class="blk blk-image"${bid}>${title}<img src="${imageSrc(src)}" alt="${esc(block.alt_text || "")}"></figure>`;
      }
      case "actions":
        return `<div class="blk blk-actions"${bid}>${(block.elements || []).map((el) => renderElement(block, el, false)).join("")}</div>`;
      case "input": {
        const err = ctx && ctx.errors && ctx.errors[block.block_id]
          ? `<div class="input-error">${esc(ctx.errors[block.block_id])}</div>` : "";
        const hint = block.hint ? `<div class="input-hint">${plain(block.hint)}</div>` : "";
        const optional = block.optional ? ` <span class="optional">(optional)</span>` : "";
        return `<div class="blk blk-input${err ? " has-error" : ""}"${bid}><label class="input-label">${plain(block.label)}${optional}</label>${renderElement(block, block.element, true)}${hint}${err}</div>`;
      }
      case "rich_text":
        return `<div class="blk blk-rich">${richText(block.elements || [])}</div>`;
      case "markdown":
        return `<div class="blk blk-section">${mrkdwn(block.text || "")}</div>`;
      default:
        return `<div class="blk unsupported">[unsupported block: ${esc(block.type)}]</div>`;
    }
  }

  function richText(elements) {
    return elements.map((el) => {
      const inner = (el.elements || []).map((e) => {
        if (e.type === "text") {
          let t = esc(e.text);
          const st = e.style || {};
          if (st.code) t = `<code>${t}</code>`;
          if (st.bold) t = `<b>${t}</b>`;
          if (st.italic) t = `<i>${t}</i>`;
          if (st.strike) t = `<s>${t}</s>`;
          return t.replace(/\n/g, "<br>");
        }
        if (e.type === "link") {
          const url = safeUrl(e.url);
          return url ? `<a href="${esc(url)}" target="_blank" rel="noopener noreferrer">${esc(e.text || e.url)}</a>` : esc(e.text || "");
        }
        if (e.type === "user") return `<span class="mention">@${esc(userName(e.user_id))}</span>`;
        if (e.type === "channel") return `<span class="mention">#${esc((S.channelsById[e.channel_id] || {}).name || e.channel_id)}</span>`;
        if (e.type === "emoji") return EMOJI[e.name] || `:${esc(e.name)}:`;
        if (e.elements) return richText([e]);
        return "";
      }).join("");
      if (el.type === "rich_text_preformatted") return `<pre class="code-block">${inner}</pre>`;
      if (el.type === "rich_text_quote") return `<span class="quote">${inner}</span>`;
      if (el.type === "rich_text_list") {
        const tag = el.style === "ordered" ? "ol" : "ul";
        return `<${tag}>${(el.elements || []).map((i) => `<li>${richText([i])}</li>`).join("")}</${tag}>`;
      }
      return `<div>${inner}</div>`;
    }).join("");
  }

  function renderBlocks(blocks, ctx) {
    return (blocks || []).map((b) => renderBlock(b, ctx)).join("");
  }

  /* ------------------------------------------------------------ messages */

  function visible(m) {
    if (m.ephemeral_for && m.ephemeral_for !== S.me) return false;
    if (m.channel[0] === "D" && m.channel !== S.dms[S.me]) return false;
    return true;
  }

  function fmtTime(ts) {
    const d = new Date(parseFloat(ts) * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }
  function fmtSize(n) {
    if (n == null) return "";
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
    return `${(n / 1024 / 1024).toFixed(1)} MB`;
  }

  const PALETTE = ["#1264a3", "#2eb67d", "#e01e5a", "#ecb22e", "#6b46c1", "#0b7a75", "#c2410c"];
  function colorFor(id) {
    let h = 0;
    for (const c of String(id)) h = (h * 31 + c.charCodeAt(0)) >>> 0;
    return PALETTE[h % PALETTE.length];
  }
  function initials(name) {
    return String(name).split(/\s+/).filter(Boolean).slice(0, 2).map((p) => p[0].toUpperCase()).join("");
  }

  // Drawn, not emoji, so that the page looks the same without an emoji font.
  const BOT_SVG = '<svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true"><rect x="4" y="7" width="16" height="12" rx="3" fill="#fff"/><rect x="11" y="3" width="2" height="4" fill="#fff"/><circle cx="12" cy="3" r="1.6" fill="#fff"/><circle cx="9" cy="12.5" r="1.7" fill="#2eb67d"/><circle cx="15" cy="12.5" r="1.7" fill="#2eb67d"/><rect x="9" y="15.6" width="6" height="1.4" rx=".7" fill="#2eb67d"/></svg>';
  const SLACKBOT_SVG = '<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true"><path d="M13 2 5 13h6l-1 9 8-11h-6z" fill="#fff"/></svg>';

  function renderAvatar(m) {
    if (m.bot_id || m.user === S.bot.user_id) return `<div class="avatar avatar-bot" aria-hidden="true">${BOT_SVG}</div>`;
    if (m.user === "USLACKBOT") return `<div class="avatar avatar-slackbot" aria-hidden="true">${SLACKBOT_SVG}</div>`;
    return `<div class="avatar" style="background:${colorFor(m.user)}" aria-hidden="true">${esc(initials(realName(m.user)))}</div>`;
  }

  function renderFiles(files) {
    return (files || []).map((f) => {
      const url = safeUrl(f.url_private) || "";
      if (String(f.mimetype || "").startsWith("image/")) {
        return `<figure class="file-image"><a href="${esc(url)}" target="_blank" rel="noopener"><img src="${esc(url)}" alt="${esc(f.alt_txt || f.title || f.name)}"></a><figcaption>${esc(f.title || f.name)}</figcaption></figure>`;
      }
      return `<a class="file-card" href="${esc(url)}" target="_blank" rel="noopener"><span class="file-icon">${esc((f.filetype || "file").slice(0, 4).toUpperCase())}</span><span><span class="file-title">${esc(f.title || f.name)}</span><span class="file-meta">${esc(f.pretty_type || f.filetype || "")} · ${fmtSize(f.size)}</span></span></a>`;
    }).join("");
  }

  function renderAttachments(atts) {
    return (atts || []).map((a) => {
      const color = /^#?[0-9a-f]{3,8}$/i.test(a.color || "") ? (a.color[0] === "#" ? a.color : "#" + a.color)
        : ({ good: "#2eb67d", warning: "#ecb22e", danger: "#e01e5a" }[a.color] || "#ddd");
      let inner = "";
      if (a.pretext) inner += `<div>${mrkdwn(a.pretext)}</div>`;
      if (a.title) inner += `<div class="att-title">${esc(a.title)}</div>`;
      if (a.text) inner += `<div>${mrkdwn(a.text)}</div>`;
      if (a.fields) inner += `<div class="section-fields">${a.fields.map((f) => `<div class="field"><b>${esc(f.title || "")}</b><br>${mrkdwn(f.value || "")}</div>`).join("")}</div>`;
      if (a.blocks) inner += renderBlocks(a.blocks);
      if (a.footer) inner += `<div class="blk-context"><span class="context-text">${mrkdwn(a.footer)}</span></div>`;
      return `<div class="attachment" style="border-left-color:${esc(color)}">${inner}</div>`;
    }).join("");
  }

  function renderMessage(m, replies) {
    const isBot = !!m.bot_id || m.user === S.bot.user_id;
    const cls = ["message"];
    if (isBot) cls.push("from-bot");
    if (m.ephemeral_for) cls.push("ephemeral");
    if (m.user === "USLACKBOT") cls.push("from-slackbot");
    const badge = isBot ? `<span class="app-badge">APP</span>` : "";
    // Slack marks edits by people only; an app's chat.update shows no "(edited)"
    const edited = m.edited && !isBot ? `<span class="edited">(edited)</span>` : "";
    const eph = m.ephemeral_for ? `<div class="ephemeral-note"><svg viewBox="0 0 24 24" width="13" height="13" aria-hidden="true"><path d="M12 5C6.5 5 2.7 9.3 1.5 12c1.2 2.7 5 7 10.5 7s9.3-4.3 10.5-7C21.3 9.3 17.5 5 12 5zm0 11a4 4 0 1 1 0-8 4 4 0 0 1 0 8z" fill="currentColor"/></svg> Only visible to you</div>` : "";
    let content = "";
    if (m.blocks && m.blocks.length) content += `<div class="blocks">${renderBlocks(m.blocks)}</div>`;
    else if (m.text) content += `<div class="msg-text">${mrkdwn(m.text)}</div>`;
    if (m.blocks && m.blocks.length && m.files && m.files.length && m.text) {
      content = `<div class="msg-text">${mrkdwn(m.text)}</div>` + content;
    }
    content += renderAttachments(m.attachments);
    if (m.files && m.files.length) content += `<div class="files">${renderFiles(m.files)}</div>`;
    const reactions = (m.reactions || []).length
      ? `<div class="reactions">${m.reactions.map((r) => `<span class="reaction">${EMOJI[r.name] || ":" + esc(r.name) + ":"} ${r.count}</span>`).join("")}</div>` : "";
    const thread = replies && replies.length
      ? `<div class="thread"><div class="thread-label">${replies.length} ${replies.length === 1 ? "reply" : "replies"}</div>${replies.map((r) => renderMessage(r, null)).join("")}</div>` : "";
    return `<div class="${cls.join(" ")}" data-ts="${esc(m.ts)}" data-channel="${esc(m.channel)}" data-user="${esc(m.user || "")}">` +
      renderAvatar(m) +
      `<div class="msg-body"><div class="msg-head"><span class="author">${esc(realName(m.user))}</span>${badge}` +
      `<time datetime="${esc(new Date(parseFloat(m.ts) * 1000).toISOString())}">${fmtTime(m.ts)}</time>${edited}</div>` +
      eph + content + reactions + thread + `</div></div>`;
  }

  /* ------------------------------------------------------------ rendering */

  function currentChannel() {
    if (S.route.kind === "home") return S.route.tab === "messages" ? S.dms[S.me] : null;
    return S.route.id;
  }

  function renderSidebar() {
    const list = $("#channel-list");
    list.innerHTML = S.channels.map((c) => {
      const active = S.route.kind === "channel" && S.route.id === c.id ? " active" : "";
      const n = S.unread[c.id] || 0;
      const badge = n ? `<span class="badge">${n}</span>` : "";
      return `<li><a href="#/${esc(c.id)}" class="chan${active}${n ? " unread" : ""}" data-channel-id="${esc(c.id)}"><span class="hash">#</span><span class="nav-label">${esc(c.name)}</span>${badge}</a></li>`;
    }).join("");
    $("#app-home-link").classList.toggle("active", S.route.kind === "home");
    const n = S.unread[S.dms[S.me]] || 0;
    const hb = $("#home-unread");
    hb.hidden = !n;
    hb.textContent = n ? String(n) : "";
    const me = S.usersById[S.me];
    if (me) {
      $("#whoami-avatar").textContent = initials(me.real_name);
      $("#whoami-avatar").style.background = colorFor(me.id);
      $("#whoami-name").textContent = me.real_name;
      $("#whoami-title").textContent = me.title;
    }
  }

  function renderHeader() {
    const tabs = $("#home-tabs");
    if (S.route.kind === "home") {
      $("#head-title").innerHTML = `<span class="avatar avatar-bot head-bot">${BOT_SVG}</span> costbot <span class="app-badge">APP</span>`;
      $("#head-topic").textContent = "Cloud cost, in Slack";
      tabs.hidden = false;
      $("#tab-home").classList.toggle("active", S.route.tab !== "messages");
      $("#tab-messages").classList.toggle("active", S.route.tab === "messages");
    } else {
      const c = S.channelsById[S.route.id] || { name: "?", topic: "" };
      $("#head-title").innerHTML = `<span class="hash">#</span>${esc(c.name)}`;
      $("#head-topic").textContent = c.topic || "";
      tabs.hidden = true;
    }
    const banner = $("#banner");
    if (!S.bot.connected) {
      banner.hidden = false;
      banner.textContent = "costbot is not connected to this workspace yet: slash commands and buttons will fail.";
    } else {
      banner.hidden = true;
    }
    const notice = $("#sandbox-notice");
    notice.textContent = S.notice || "";
    notice.hidden = !S.notice;
  }

  function nearBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }

  function renderMessages(forceBottom) {
    const box = $("#messages");
    const cid = currentChannel();
    const showHome = S.route.kind === "home" && S.route.tab !== "messages";
    box.hidden = showHome;
    $("#home-view").hidden = !showHome;
    $("#composer-wrap").hidden = showHome;
    if (showHome) { renderHome(); return; }
    const stick = forceBottom || nearBottom(box);
    const all = [...S.messages.values()].filter((m) => m.channel === cid && visible(m));
    all.sort((a, b) => parseFloat(a.ts) - parseFloat(b.ts));
    const top = [];
    const replies = {};
    const byTs = new Set(all.map((m) => m.ts));
    for (const m of all) {
      if (m.thread_ts && m.thread_ts !== m.ts && byTs.has(m.thread_ts)) {
        (replies[m.thread_ts] = replies[m.thread_ts] || []).push(m);
      } else {
        top.push(m);
      }
    }
    if (!top.length) {
      const name = cid && S.channelsById[cid] ? "#" + S.channelsById[cid].name : "costbot";
      box.innerHTML = `<div class="empty"><div class="empty-title">This is the very beginning of ${esc(name)}</div>` +
        `<div>Try <code>/cost help</code> in the message box below.</div></div>`;
    } else {
      box.innerHTML = `<div class="day-divider"><span>Today</span></div>` +
        top.map((m) => renderMessage(m, replies[m.ts])).join("");
    }
    if (stick) box.scrollTop = box.scrollHeight;
    S.stick = stick;
    const comp = $("#composer");
    comp.placeholder = S.route.kind === "home" ? "Message costbot" : `Message #${(S.channelsById[cid] || {}).name || ""}`;
  }

  function renderHome() {
    const box = $("#home-view");
    const view = S.homes[S.me];
    if (!view) {
      box.innerHTML = `<div class="empty"><div class="empty-title">costbot</div><div>costbot has not published a Home tab for you yet.</div></div>`;
      return;
    }
    const err = view._error ? `<div class="view-error">${mrkdwn(view._error)}</div>` : "";
    box.innerHTML = `<div class="home-inner" data-view-id="${esc(view.id)}">${err}${renderBlocks(view.blocks, { errors: view._errors })}</div>`;
  }

  function renderModal() {
    const root = $("#modal-root");
    const stack = S.modals[S.me] || [];
    const view = stack[stack.length - 1];
    if (!view) { root.innerHTML = ""; return; }
    const prev = root.querySelector(".modal");
    if (prev && prev.dataset.viewId === view.id && prev.dataset.hash === view.hash) {
      // same view: keep what the person typed, only show the new errors
      const errors = view._errors || {};
      prev.querySelectorAll(".input-error, .view-error").forEach((el) => el.remove());
      prev.querySelectorAll(".blk-input").forEach((el) => {
        const msg = errors[el.dataset.block];
        el.classList.toggle("has-error", !!msg);
        if (msg) el.insertAdjacentHTML("beforeend", `<div class="input-error">${esc(msg)}</div>`);
      });
      if (view._error) {
        prev.querySelector(".modal-body").insertAdjacentHTML("afterbegin", `<div class="view-error">${mrkdwn(view._error)}</div>`);
      }
      const sb = prev.querySelector("#modal-submit");
      if (sb) sb.disabled = false;
      return;
    }
    const submit = view.submit
      ? `<button type="button" class="btn btn-primary" id="modal-submit">${plain(view.submit)}</button>` : "";
    const close = `<button type="button" class="btn" id="modal-close">${view.close ? plain(view.close) : "Cancel"}</button>`;
    const err = view._error ? `<div class="view-error">${mrkdwn(view._error)}</div>` : "";
    root.innerHTML = `<div class="overlay"><div class="modal" id="modal" role="dialog" aria-modal="true" data-view-id="${esc(view.id)}" data-hash="${esc(view.hash)}">` +
      `<div class="modal-head"><span class="avatar avatar-bot modal-app">${BOT_SVG}</span><span class="modal-title">${plain(view.title)}</span><button type="button" class="modal-x" id="modal-x" aria-label="Close">✕</button></div>` +
      `<div class="modal-body">${err}${renderBlocks(view.blocks, { errors: view._errors })}</div>` +
      `<div class="modal-foot">${close}${submit}</div></div></div>`;
  }

  function render(forceBottom) {
    renderSidebar();
    renderHeader();
    renderMessages(forceBottom);
    renderModal();
  }

  /* ------------------------------------------------------------ server calls */

  async function post(path, body) {
    const r = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let data = {};
    try { data = await r.json(); } catch (e) { /* empty */ }
    if (!r.ok) throw new Error(data.error || `HTTP ${r.status}`);
    return data;
  }

  let toastTimer = null;
  function toast(text) {
    const t = $("#toast");
    t.textContent = text;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  function setStatus(text) {
    $("#composer-status").textContent = text || "";
  }

  async function loadState() {
    const r = await fetch("/ui/api/state", { cache: "no-store" });
    const st = await r.json();
    S.seq = st.seq;
    S.team = st.team;
    S.bot = st.bot;
    S.notice = st.notice || "";
    S.users = st.users;
    S.usersById = Object.fromEntries(st.users.map((u) => [u.id, u]));
    S.channels = st.channels;
    S.channelsById = Object.fromEntries(st.channels.map((c) => [c.id, c]));
    S.dms = st.dms;
    S.messages = new Map(st.messages.map((m) => [m.ts, m]));
    S.homes = st.homes;
    S.modals = st.modals;
    $("#ws-name").textContent = st.team.name || "costbot demo";
    document.title = `${st.team.name || "costbot demo"} — workspace`;
  }

  function applyEvent(ev) {
    if (ev.type === "message") {
      const m = ev.message;
      S.messages.set(m.ts, m);
      if (m.channel !== currentChannel() && visible(m)) {
        S.unread[m.channel] = (S.unread[m.channel] || 0) + 1;
      }
      if (S.pendingCommand && (m.ephemeral_for === S.me || (m.channel === currentChannel() && m.bot_id))) {
        S.pendingCommand = null;
        setStatus("");
      }
    } else if (ev.type === "message_changed") {
      S.messages.set(ev.message.ts, ev.message);
    } else if (ev.type === "message_deleted") {
      S.messages.delete(ev.ts);
    } else if (ev.type === "home") {
      S.homes[ev.user] = ev.view;
    } else if (ev.type === "modals") {
      S.modals[ev.user] = ev.stack;
      if (ev.user === S.me && S.pendingCommand) { S.pendingCommand = null; setStatus(""); }
    }
  }

  function setConn(ok) {
    const el = $("#conn-status");
    el.textContent = ok ? "● live" : "○ reconnecting…";
    el.classList.toggle("ok", ok);
  }

  const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

  async function pollLoop() {
    for (;;) {
      try {
        const r = await fetch(`/ui/api/events?after=${S.seq}`, { cache: "no-store" });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        const data = await r.json();
        setConn(true);
        if (data.reset) {
          await loadState();
          render(true);
          continue;
        }
        for (const ev of data.events) {
          if (ev.seq > S.seq) applyEvent(ev);
        }
        S.seq = Math.max(S.seq, data.seq);
        if (data.events.length) render(false);
      } catch (e) {
        setConn(false);
        await sleep(1500);
      }
    }
  }

  /* ------------------------------------------------------------ routing & input */

  function parseRoute() {
    const h = location.hash.replace(/^#\/?/, "");
    const parts = h.split("/");
    if (parts[0] === "home") return { kind: "home", tab: parts[1] === "messages" ? "messages" : "home" };
    if (S.channelsById[parts[0]]) return { kind: "channel", id: parts[0] };
    const byName = S.channels.find((c) => c.name === decodeURIComponent(parts[0]));
    if (byName) return { kind: "channel", id: byName.id };
    return { kind: "channel", id: S.channels.length ? S.channels[0].id : null };
  }

  function onRoute() {
    const before = S.route;
    S.route = parseRoute();
    const cid = currentChannel();
    if (cid) S.unread[cid] = 0;
    render(true);
    if (S.route.kind === "home" && (before.kind !== "home")) {
      post("/ui/api/app_home", { user: S.me }).catch(() => {});
    }
    if (S.route.kind !== "home" || S.route.tab === "messages") $("#composer").focus();
  }

  function fillWhoami() {
    const sel = $("#whoami");
    sel.innerHTML = S.users.map((u) =>
      `<option value="${esc(u.id)}">${esc(u.real_name)} — ${esc(u.title)}</option>`).join("");
    const params = new URLSearchParams(location.search);
    const wanted = params.get("as") || localStorage.getItem("costbot-demo-me");
    S.me = S.usersById[wanted] ? wanted : (S.users[0] || {}).id;
    sel.value = S.me;
  }

  async function sendComposer() {
    const comp = $("#composer");
    const text = comp.value.replace(/\s+$/, "");
    if (!text.trim()) return;
    const channel = currentChannel();
    if (!channel) return;
    comp.value = "";
    autosize();
    try {
      if (text.trim().startsWith("/")) {
        const cmd = text.trim().split(/\s+/)[0];
        S.pendingCommand = cmd;
        setStatus(`Sent ${cmd} to costbot…`);
        await post("/ui/api/command", { user: S.me, channel, text: text.trim() });
        setTimeout(() => { if (S.pendingCommand === cmd) { S.pendingCommand = null; setStatus(""); } }, 6000);
      } else {
        await post("/ui/api/message", { user: S.me, channel, text });
      }
    } catch (e) {
      setStatus("");
      toast(`Could not send: ${e.message}`);
    }
  }

  function autosize() {
    const comp = $("#composer");
    comp.style.height = "auto";
    comp.style.height = Math.min(comp.scrollHeight, 200) + "px";
  }

  function confirmOk(btn) {
    if (!btn.dataset.confirm) return true;
    try {
      const c = JSON.parse(btn.dataset.confirm);
      const parts = [c.title && c.title.text, c.text && c.text.text].filter(Boolean);
      return window.confirm(parts.join("\n\n") || "Are you sure?");
    } catch (e) {
      return window.confirm("Are you sure?");
    }
  }

  async function onAction(el, extra) {
    const msgEl = el.closest(".message");
    const viewEl = el.closest("[data-view-id]");
    const base = {
      user: S.me,
      action_id: el.dataset.actionId,
      block_id: el.dataset.blockId || null,
      ...extra,
    };
    try {
      if (msgEl && !viewEl) {
        await post("/ui/api/action", { ...base, channel: msgEl.dataset.channel, message_ts: msgEl.dataset.ts });
      } else if (viewEl) {
        await post("/ui/api/view_action", { ...base, view_id: viewEl.dataset.viewId });
      }
    } catch (e) {
      toast(`Could not send the click: ${e.message}`);
    }
  }

  function collectState(modal) {
    const values = {};
    modal.querySelectorAll("[data-input]").forEach((el) => {
      const bid = el.dataset.blockId || "";
      const aid = el.dataset.actionId || "";
      const type = el.dataset.type;
      let entry = { type };
      if (type === "static_select") {
        const opt = el.selectedOptions[0];
        entry.selected_option = opt && opt.value
          ? { text: { type: "plain_text", text: opt.textContent, emoji: true }, value: opt.value } : null;
      } else if (type === "radio_buttons" || type === "checkboxes") {
        const picked = [...el.querySelectorAll("input:checked")].map((i) => ({
          text: { type: "plain_text", text: i.parentElement.textContent.trim(), emoji: true }, value: i.value,
        }));
        if (type === "radio_buttons") entry.selected_option = picked[0] || null;
        else entry.selected_options = picked;
      } else if (type === "datepicker") {
        entry.selected_date = el.value || null;
      } else {
        entry.value = el.value === "" ? null : el.value;
      }
      (values[bid] = values[bid] || {})[aid] = entry;
    });
    return values;
  }

  async function postDigests() {
    // The digests go through the outbox: one per team channel, at Slack's pace.
    const channel = currentChannel() || (S.channels[0] || {}).id;
    try {
      await post("/ui/api/command", { user: S.me, channel, text: "/cost digest post" });
      toast("Posting today's digests to the team channels…");
    } catch (e) {
      toast(`Could not ask for the digests: ${e.message}`);
    }
  }

  function bind() {
    $("#post-digests").addEventListener("click", postDigests);
    $("#whoami").addEventListener("change", (e) => {
      S.me = e.target.value;
      localStorage.setItem("costbot-demo-me", S.me);
      S.unread = {};
      render(true);
      if (S.route.kind === "home") post("/ui/api/app_home", { user: S.me }).catch(() => {});
    });
    window.addEventListener("hashchange", onRoute);
    const comp = $("#composer");
    comp.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        sendComposer();
      }
    });
    comp.addEventListener("input", autosize);
    // images load after the list is drawn: keep the newest message in sight
    const box = $("#messages");
    box.addEventListener("scroll", () => { S.stick = nearBottom(box); });
    box.addEventListener("load", (e) => {
      if (e.target.tagName === "IMG" && S.stick) box.scrollTop = box.scrollHeight;
    }, true);
    $("#send").addEventListener("click", sendComposer);

    document.addEventListener("click", (e) => {
      const btn = e.target.closest("button[data-action-id]");
      if (btn) {
        if (btn.disabled || !confirmOk(btn)) return;
        if (btn.dataset.url) window.open(btn.dataset.url, "_blank", "noopener");
        btn.classList.add("pending");
        btn.disabled = true;
        setTimeout(() => { btn.disabled = false; btn.classList.remove("pending"); }, 3000);
        onAction(btn, { value: btn.dataset.value !== undefined ? btn.dataset.value : null });
        return;
      }
      const modal = $("#modal");
      if (!modal) return;
      const viewId = modal.dataset.viewId;
      if (e.target.closest("#modal-close, #modal-x")) {
        post("/ui/api/view_close", { user: S.me, view_id: viewId }).catch((err) => toast(err.message));
      } else if (e.target.closest("#modal-submit")) {
        const sb = $("#modal-submit");
        sb.disabled = true;
        setTimeout(() => { if (sb.isConnected) sb.disabled = false; }, 3000);
        post("/ui/api/view_submission", { user: S.me, view_id: viewId, state: collectState(modal) })
          .catch((err) => toast(err.message));
      }
    });
    document.addEventListener("change", (e) => {
      const sel = e.target.closest("select[data-select]");
      if (sel && sel.value) onAction(sel, { option_value: sel.value });
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && $("#modal")) {
        post("/ui/api/view_close", { user: S.me, view_id: $("#modal").dataset.viewId }).catch(() => {});
      }
    });
  }

  async function main() {
    try {
      await loadState();
    } catch (e) {
      setConn(false);
      await sleep(1500);
      return main();
    }
    setConn(true);
    fillWhoami();
    bind();
    S.route = parseRoute();
    if (!location.hash && S.route.id) history.replaceState(null, "", `#/${S.route.id}`);
    onRoute();
    document.body.dataset.ready = "1";
    pollLoop();
  }

  // exposed for tests in the browser console
  window.costbotDemo = { state: S, mrkdwn };
  main();
})();
