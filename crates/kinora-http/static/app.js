// Kinora web UI: feed autoplay, tap for sound/pause, preloading, infinite scroll,
// and uploads with a progress bar. Small and dependency-free on purpose.
(function () {
  "use strict";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";
  var soundOn = false;
  var signedIn = document.body.dataset.signedIn === "1";

  // JSON API call with the session's CSRF token; signed-out writes go to sign-in.
  function api(method, path, body) {
    var opts = { method: method, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (r) {
      if (r.status === 401) { location.href = "/login"; throw new Error("sign in"); }
      if (r.status === 204) return null;
      return r.json().then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || ("HTTP " + r.status));
        return j;
      });
    });
  }
  function toast(msg) {
    var t = document.getElementById("toast");
    if (!t) return;
    t.textContent = msg; t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(function () { t.hidden = true; }, 2200);
  }

  // Hashtags and mentions in captions and comments become links (built as DOM
  // nodes from text, so nothing a caption contains is ever parsed as HTML).
  function linkify(node) {
    var text = node.textContent, re = /(^|[^\w])([#@])([\w\u00C0-\uFFFF]{1,50})/g, m, last = 0;
    var frag = document.createDocumentFragment(), any = false;
    while ((m = re.exec(text))) {
      var start = m.index + m[1].length;
      frag.appendChild(document.createTextNode(text.slice(last, start)));
      var href = m[2] === "#" ? "/tags/" + encodeURIComponent(m[3].toLowerCase()) : "/@" + m[3].toLowerCase();
      frag.appendChild(el("a", { href: href, "class": "inline-link" }, m[2] + m[3]));
      last = start + 1 + m[3].length; any = true;
    }
    if (!any) return;
    frag.appendChild(document.createTextNode(text.slice(last)));
    node.textContent = ""; node.appendChild(frag);
  }
  document.querySelectorAll(".caption, .bio").forEach(linkify);

  function needSignIn() { if (!signedIn) { location.href = "/login"; return true; } return false; }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) e.textContent = text;
    return e;
  }

  // ---------- feed ----------
  var feed = document.querySelector(".feed");
  if (feed) initFeed(feed);

  function initFeed(feed) {
    var loading = false;
    var tip = document.querySelector(".soundtip");
    var io = new IntersectionObserver(function (entries) {
      entries.forEach(function (en) {
        var v = en.target.querySelector("video");
        if (!v) return;
        if (en.isIntersecting && en.intersectionRatio >= 0.6) activate(en.target); else v.pause();
      });
    }, { root: feed, threshold: [0, 0.6, 1] });

    // Rendition choice: the largest whose short edge fits the screen (in device
    // pixels), then step down while its bitrate exceeds what the connection reports.
    function sourcesOf(v) {
      try { return JSON.parse(v.dataset.sources || "[]"); } catch (_) { return []; }
    }
    function pick(list) {
      if (!list.length) return -1;
      var dpr = window.devicePixelRatio || 1;
      var need = Math.min(window.innerWidth, window.innerHeight) * dpr;
      var i = 0;
      while (i < list.length - 1 && Math.min(list[i].width, list[i].height) > need * 1.25) i++;
      var c = navigator.connection;
      var budget = c && c.downlink ? c.downlink * 1e6 * 0.8 : Infinity;
      if (c && c.saveData) budget = Math.min(budget, 1.2e6);
      while (i < list.length - 1 && list[i].bitrate > budget) i++;
      return i;
    }
    function ensureSrc(v, preload) {
      if (!v.getAttribute("src")) {
        var list = sourcesOf(v), i = pick(list);
        v.dataset.rung = i;
        v.preload = preload;
        v.src = i >= 0 ? list[i].url : v.dataset.src;
        watchStalls(v);
      } else if (preload === "auto") v.preload = "auto";
    }
    // Switch down a rendition when playback stalls, keeping the position.
    function watchStalls(v) {
      var timer = null;
      v.addEventListener("waiting", function () {
        clearTimeout(timer);
        timer = setTimeout(function () { downshift(v); }, 2500);
      });
      ["playing", "pause", "canplaythrough"].forEach(function (ev) {
        v.addEventListener(ev, function () { clearTimeout(timer); });
      });
    }
    function downshift(v) {
      var list = sourcesOf(v), i = Number(v.dataset.rung || 0);
      if (i < 0 || i >= list.length - 1 || v.paused) return;
      var t = v.currentTime;
      v.dataset.rung = i + 1;
      v.src = list[i + 1].url;
      v.addEventListener("loadedmetadata", function once() {
        v.removeEventListener("loadedmetadata", once);
        v.currentTime = t;
        v.play().catch(function () {});
      });
    }

    function activate(card) {
      if (!watching || watching.card !== card) {
        reportView();
        watching = { card: card, start: Date.now(), looped: false };
        var vv = card.querySelector("video");
        vv.addEventListener("seeked", function () { if (watching && watching.card === card && vv.currentTime < 0.5) watching.looped = true; });
      }
      var v = card.querySelector("video");
      ensureSrc(v, "auto");
      v.muted = !soundOn;
      var p = v.play();
      if (p && p.catch) p.catch(function () {
        // Autoplay with sound refused: fall back to muted.
        v.muted = true; soundOn = false; v.play().catch(function () {});
      });
      if (tip) tip.hidden = soundOn;
      // Preload the next video so swiping on is instant.
      var next = card.nextElementSibling;
      if (next && next.querySelector) { var nv = next.querySelector("video"); if (nv) ensureSrc(nv, "auto"); }
      if (!next || !next.nextElementSibling) loadMore();
    }

    function flash(card, sym) {
      var h = card.querySelector(".hint"); if (!h) return;
      h.textContent = sym; h.classList.add("show");
      setTimeout(function () { h.classList.remove("show"); }, 500);
    }

    var lastTap = 0, tapTimer = null;
    feed.addEventListener("click", function (e) {
      var card = e.target.closest(".card");
      if (!card || e.target.closest("a")) return;
      var fb = e.target.closest(".followcard");
      if (fb) { followFromCard(card, fb); return; }
      var act = e.target.closest(".act");
      if (act) {
        if (act.classList.contains("like")) toggleLike(card);
        else if (act.classList.contains("comment")) openComments(card);
        else if (act.classList.contains("share")) shareCard(card);
        else if (act.classList.contains("report")) openReport({ video_id: card.dataset.id });
        else if (act.classList.contains("why")) openWhy(card, act);
        return;
      }
      var now = Date.now();
      if (now - lastTap < 300) {
        // Double tap: like (never unlike) with the heart.
        clearTimeout(tapTimer); lastTap = 0;
        var h = card.querySelector(".heart");
        if (h) { h.classList.remove("pop"); void h.offsetWidth; h.classList.add("pop"); }
        if (!card.querySelector(".like").classList.contains("on")) toggleLike(card);
        return;
      }
      lastTap = now;
      tapTimer = setTimeout(function () { singleTap(card); }, 300);
    });
    function singleTap(card) {
      var v = card.querySelector("video");
      if (!soundOn) { soundOn = true; v.muted = false; if (v.paused) v.play(); if (tip) tip.hidden = true; flash(card, "🔊"); return; }
      if (v.paused) { v.play(); flash(card, "▶"); } else { v.pause(); flash(card, "❚❚"); }
    }
    // Follow the author from a card: the follow remembers the video it came from.
    function followFromCard(card, b) {
      if (needSignIn()) return;
      b.disabled = true;
      api("POST", "/api/v1/accounts/" + b.dataset.username + "/follow", { from_video: card.dataset.id }).then(function (r) {
        var label = r.state === "requested" ? "Requested" : "Following";
        feed.querySelectorAll('.followcard[data-username="' + b.dataset.username + '"]').forEach(function (x) {
          x.textContent = label; x.disabled = true; x.classList.add("on");
        });
      }).catch(function (err) { b.disabled = false; toast(err.message); });
    }
    // "Why this video?" and "Not interested".
    var why = document.getElementById("why-sheet");
    function openWhy(card, act) {
      if (!why) return;
      document.getElementById("why-text").textContent = act.dataset.reason;
      why.dataset.id = card.dataset.id;
      if (why.showModal) why.showModal(); else why.setAttribute("open", "");
    }
    var ni = document.getElementById("not-interested");
    if (ni) ni.addEventListener("click", function () {
      if (needSignIn()) return;
      var id = why.dataset.id;
      api("POST", "/api/v1/videos/" + id + "/not-interested").then(function () {
        why.close();
        toast("Got it: fewer videos like this");
        var card = feed.querySelector('.card[data-id="' + id + '"]');
        var next = card && card.nextElementSibling;
        if (card) { var v = card.querySelector("video"); if (v) v.pause(); card.classList.add("dismissed"); }
        if (next && next.scrollIntoView) next.scrollIntoView({ behavior: "smooth" });
      }).catch(function (err) { toast(err.message); });
    });
    function toggleLike(card) {
      if (needSignIn()) return;
      var b = card.querySelector(".like"), on = !b.classList.contains("on");
      b.classList.toggle("on", on); b.setAttribute("aria-pressed", on);
      api(on ? "POST" : "DELETE", "/api/v1/videos/" + card.dataset.id + "/like").then(function (r) {
        b.querySelector(".n").textContent = r.counts.likes;
      }).catch(function (err) { b.classList.toggle("on", !on); toast(err.message); });
    }
    function shareCard(card) {
      var url = location.origin + "/v/" + card.dataset.id;
      api("POST", "/api/v1/videos/" + card.dataset.id + "/share").catch(function () {});
      if (navigator.share) {
        navigator.share({ url: url, title: "A video on Kinora" }).catch(function () {});
      } else if (navigator.clipboard) {
        navigator.clipboard.writeText(url).then(function () { toast("Link copied"); }, function () { toast(url); });
      } else { toast(url); }
    }
    // Watch time, reported when a video leaves the screen.
    var watching = null;
    function reportView() {
      if (!watching) return;
      var w = watching; watching = null;
      var ms = Math.round(Date.now() - w.start);
      if (ms < 500) return;
      var dur = Number(w.card.dataset.duration || 0);
      var replays = dur > 0 ? Math.max(0, Math.floor(ms / dur) - 1) : 0;
      var body = JSON.stringify({ watched_ms: ms, completed: dur > 0 && (w.looped || ms >= dur), replays: Math.min(replays, 10) });
      fetch("/api/v1/videos/" + w.card.dataset.id + "/views", { method: "POST", credentials: "same-origin", keepalive: true,
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: body }).catch(function () {});
    }
    document.addEventListener("visibilitychange", function () { if (document.hidden) reportView(); });
    function watch(card) { io.observe(card); }
    feed.querySelectorAll(".card").forEach(watch);

    // Later pages are the same server-rendered card as the first page (one
    // template), fetched as an HTML fragment with the next cursor in a header.
    function loadMore() {
      var kind = feed.dataset.feed, cursor = feed.dataset.next;
      if (loading || !cursor || (kind !== "for-you" && kind !== "following")) return;
      loading = true;
      fetch("/feed/" + kind + "/cards?cursor=" + encodeURIComponent(cursor), { credentials: "same-origin" })
        .then(function (r) {
          if (!r.ok) return Promise.reject(r.status);
          feed.dataset.next = r.headers.get("X-Next-Cursor") || "";
          return r.text();
        })
        .then(function (html) {
          var tpl = document.createElement("template");
          tpl.innerHTML = html;
          tpl.content.querySelectorAll(".card").forEach(function (c) {
            c.querySelectorAll(".caption").forEach(linkify);
            feed.appendChild(c);
            watch(c);
          });
        })
        .catch(function () {})
        .then(function () { loading = false; });
    }

    document.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" || e.key === "j") feed.scrollBy({ top: feed.clientHeight, behavior: "smooth" });
      if (e.key === "ArrowUp" || e.key === "k") feed.scrollBy({ top: -feed.clientHeight, behavior: "smooth" });
    });
    document.addEventListener("visibilitychange", function () {
      if (document.hidden) feed.querySelectorAll("video").forEach(function (v) { v.pause(); });
    });
  }

  // ---------- upload ----------
  // Resumable uploads with tus-js-client: chunks are acknowledged as they land, a
  // dropped connection is retried with back-off and resumes where the server says,
  // and an upload interrupted by closing the page resumes when the same file is
  // picked again (tus-js-client remembers it in localStorage).
  var form = document.getElementById("upload-form");
  if (form) {
    var current = null, videoId = null;
    var status = document.getElementById("upload-status");
    var bar = document.getElementById("upload-progress");
    var text = document.getElementById("upload-text");
    var pauseBtn = document.getElementById("upload-pause");
    var resumeBtn = document.getElementById("upload-resume");
    var postBtn = form.querySelector("button[type=submit]");
    function mb(n) { return (n / 1048576).toFixed(1); }
    function paused(p) { pauseBtn.hidden = p; resumeBtn.hidden = !p; }
    pauseBtn.addEventListener("click", function () { if (current) { current.abort(); paused(true); text.textContent = "Paused at " + bar.value + "%. Resume whenever you like."; } });
    resumeBtn.addEventListener("click", function () { if (current) { paused(false); current.start(); } });
    window.addEventListener("online", function () { if (current && !resumeBtn.hidden && !videoId) { paused(false); current.start(); } });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var file = form.querySelector("input[type=file]").files[0];
      if (!file) return;
      status.hidden = false; postBtn.disabled = true; videoId = null;
      text.textContent = "Starting upload…";
      current = new tus.Upload(file, {
        endpoint: "/api/v1/uploads",
        chunkSize: 8 * 1024 * 1024,
        retryDelays: [0, 1000, 3000, 5000, 10000, 20000, 30000, 60000],
        removeFingerprintOnSuccess: true,
        // The caption and audience travel with every chunk too: when this resumes an
        // earlier attempt of the same file, what was chosen now is what is published.
        headers: { "X-CSRF-Token": csrf, "Upload-Metadata": tusMeta({ caption: form.caption.value, visibility: form.visibility.value }) },
        metadata: {
          filename: file.name,
          filetype: file.type,
          caption: form.caption.value,
          visibility: form.visibility.value
        },
        onProgress: function (sent, total) {
          var pct = Math.floor(sent * 100 / total);
          bar.value = pct;
          text.textContent = "Uploading… " + pct + "% (" + mb(sent) + " of " + mb(total) + " MB)";
        },
        onShouldRetry: function (err, attempt) {
          var st = err.originalResponse ? err.originalResponse.getStatus() : 0;
          if (st >= 400 && st < 500 && st !== 409 && st !== 423 && st !== 429) return false;
          text.textContent = "Connection lost — retrying (attempt " + (attempt + 1) + ")…";
          return true;
        },
        onAfterResponse: function (req, res) {
          var id = res.getHeader("Kinora-Video-Id");
          if (id) videoId = id;
        },
        onError: function (err) {
          var msg = String(err && err.message || err);
          var body = err.originalResponse && err.originalResponse.getBody && err.originalResponse.getBody();
          try { msg = JSON.parse(body).error.message; } catch (_) {}
          text.textContent = "Upload stopped: " + msg + " Press Resume to try again.";
          paused(true);
        },
        onSuccess: function () {
          pauseBtn.hidden = resumeBtn.hidden = true;
          bar.removeAttribute("value");
          text.textContent = "Uploaded. Processing your video…";
          if (videoId) poll(videoId);
        }
      });
      paused(false);
      current.findPreviousUploads().then(function (prev) {
        if (prev.length) {
          current.resumeFromPreviousUpload(prev[0]);
          text.textContent = "Resuming your earlier upload of this file, with the caption and audience chosen now…";
        }
        current.start();
      });
    });
  }

  // tus `Upload-Metadata`: `key base64(UTF-8 value)` pairs.
  function tusMeta(o) {
    return Object.keys(o).map(function (k) { return k + " " + btoa(unescape(encodeURIComponent(o[k]))); }).join(",");
  }

  function poll(id) {
    var text = document.getElementById("upload-text");
    var bar = document.getElementById("upload-progress");
    fetch("/api/v1/videos/" + id, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (v) {
        if (v.status === "processing") { setTimeout(function () { poll(id); }, 1000); return; }
        bar.hidden = true;
        if (v.status === "failed") {
          text.textContent = "We couldn't process this video: " + (v.error ? v.error.message : "unknown error");
          document.querySelector("#upload-form button[type=submit]").disabled = false;
          return;
        }
        text.textContent = "Ready! Your video is live.";
        var player = document.getElementById("upload-result");
        player.poster = v.poster_url || ""; player.src = v.sources[0].url; player.hidden = false;
        var link = document.getElementById("upload-link");
        link.href = "/v/" + v.id; link.hidden = false;
      })
      .catch(function () { setTimeout(function () { poll(id); }, 2000); });
  }
  // ---------- reports (videos, comments) ----------
  function openReport(target) {
    if (needSignIn()) return;
    var dlg = document.getElementById("report-dialog");
    if (!dlg || !dlg.showModal) return;
    var f = dlg.querySelector("form");
    f.reset();
    dlg.onclose = function () {
      if (dlg.returnValue !== "send") return;
      var body = { reason: f.reason.value, details: f.details.value };
      Object.keys(target).forEach(function (k) { body[k] = target[k]; });
      api("POST", "/api/v1/reports", body)
        .then(function () { toast("Thanks. A moderator will look at it."); })
        .catch(function (err) { toast(err.message); });
    };
    dlg.returnValue = "";
    dlg.showModal();
  }

  // ---------- comments sheet ----------
  var sheet = document.getElementById("comments");
  var sheetCard = null, replyTo = null;
  function openComments(card) {
    if (!sheet) return;
    sheetCard = card; replyTo = null;
    sheet.hidden = false;
    requestAnimationFrame(function () { sheet.classList.add("open"); });
    loadComments();
  }
  function closeComments() {
    if (!sheet) return;
    sheet.classList.remove("open");
    setTimeout(function () { sheet.hidden = true; }, 250);
  }
  function loadComments() {
    var list = sheet.querySelector(".comment-list");
    list.textContent = "";
    api("GET", "/api/v1/videos/" + sheetCard.dataset.id + "/comments?limit=100").then(function (page) {
      var me = document.querySelector('.tabbar a[href^="/@"]');
      var myName = me ? me.getAttribute("href").slice(2) : "";
      page.items.forEach(function (c) {
        var li = el("li", { "class": c.reply_to ? "reply" : "" , "data-id": c.id });
        var a = el("a", { href: "/@" + c.author.username, "class": "who" }, "@" + c.author.username);
        var body = el("p", {}, c.text); linkify(body);
        li.appendChild(a); li.appendChild(body);
        var actions = el("div", { "class": "row small" });
        var like = el("button", { "class": "link clike" + (c.liked_by_me ? " on" : "") }, "\u2665 " + c.counts.likes);
        like.addEventListener("click", function () {
          if (needSignIn()) return;
          api(like.classList.contains("on") ? "DELETE" : "POST", "/api/v1/comments/" + c.id + "/like").then(function (r) {
            like.classList.toggle("on", r.liked_by_me); like.textContent = "\u2665 " + r.counts.likes;
          }).catch(function (e) { toast(e.message); });
        });
        actions.appendChild(like);
        var rep = el("button", { "class": "link" }, "Reply");
        rep.addEventListener("click", function () {
          replyTo = c.reply_to || c.id;
          var input = sheet.querySelector("input[name=text]");
          input.value = "@" + c.author.username + " "; input.focus();
        });
        actions.appendChild(rep);
        if (myName && c.author.username !== myName) {
          var flag = el("button", { "class": "link" }, "Report");
          flag.addEventListener("click", function () { openReport({ comment_id: c.id }); });
          actions.appendChild(flag);
        }
        if (c.author.username === myName) {
          var del = el("button", { "class": "link" }, "Delete");
          del.addEventListener("click", function () {
            api("DELETE", "/api/v1/comments/" + c.id).then(loadComments).catch(function (e) { toast(e.message); });
          });
          actions.appendChild(del);
        }
        li.appendChild(actions);
        list.appendChild(li);
      });
      sheet.querySelector(".comment-empty").hidden = page.items.length > 0;
      var n = sheetCard.querySelector(".comment .n"); if (n) n.textContent = page.items.length;
      var form = sheet.querySelector(".comment-form");
      form.hidden = page.comments === "off";
    }).catch(function (e) { toast(e.message); });
  }
  if (sheet) {
    sheet.querySelector(".close").addEventListener("click", closeComments);
    sheet.querySelector(".comment-form").addEventListener("submit", function (e) {
      e.preventDefault();
      if (needSignIn()) return;
      var input = sheet.querySelector("input[name=text]");
      var body = { text: input.value };
      if (replyTo) body.reply_to = replyTo;
      api("POST", "/api/v1/videos/" + sheetCard.dataset.id + "/comments", body).then(function () {
        input.value = ""; replyTo = null; loadComments();
      }).catch(function (err) { toast(err.message); });
    });
  }

  // ---------- profile ----------
  document.querySelectorAll("button.follow").forEach(function (b) {
    b.addEventListener("click", function () {
      var on = b.dataset.state === "none" || b.dataset.state === "";
      api(on ? "POST" : "DELETE", "/api/v1/accounts/" + b.dataset.username + "/follow").then(function (r) {
        b.dataset.state = r.state === "following" ? "following" : r.state;
        b.textContent = r.state === "following" ? "Following" : r.state === "requested" ? "Requested" : "Follow";
      }).catch(function (e) { toast(e.message); });
    });
  });
  document.querySelectorAll("button.more").forEach(function (b) {
    var menu = document.querySelector(".menu");
    b.addEventListener("click", function () { if (menu) menu.hidden = !menu.hidden; });
  });
  document.querySelectorAll(".menu [data-action]").forEach(function (b) {
    b.addEventListener("click", function () {
      var u = b.dataset.username, a = b.dataset.action;
      if (a === "report") { openReport({ account: u }); return; }
      if (a === "block" && !confirm("Block @" + u + "? You won't see each other.")) return;
      api("POST", "/api/v1/accounts/" + u + "/" + a).then(function () {
        toast(a === "block" ? "Blocked" : "Muted");
        if (a === "block") location.href = "/";
      }).catch(function (e) { toast(e.message); });
    });
  });
  document.querySelectorAll(".tabs .tab").forEach(function (t) {
    t.addEventListener("click", function () {
      document.querySelectorAll(".tabs .tab").forEach(function (x) { x.classList.toggle("on", x === t); });
      document.querySelectorAll(".tabpane").forEach(function (p) { p.hidden = p.dataset.pane !== t.dataset.tab; });
    });
  });
  document.querySelectorAll("button.tagfollow").forEach(function (b) {
    b.addEventListener("click", function () {
      var on = b.dataset.on !== "true";
      api(on ? "POST" : "DELETE", "/api/v1/tags/" + encodeURIComponent(b.dataset.tag) + "/follow").then(function (r) {
        b.dataset.on = String(r.following); b.textContent = r.following ? "Following" : "Follow hashtag";
      }).catch(function (e) { toast(e.message); });
    });
  });

  // ---------- search: results as you type ----------
  var q = document.getElementById("search-q");
  if (q) {
    var seq = 0, timer = null;
    var run = function () {
      var text = q.value.trim(), mine = ++seq;
      var box = document.getElementById("search-results");
      history.replaceState(null, "", text ? "/search?q=" + encodeURIComponent(text) : "/search");
      if (!text) { box.querySelectorAll("ul").forEach(function (u) { u.textContent = ""; }); box.querySelector(".search-empty").hidden = true; return; }
      Promise.all(["accounts", "tags", "videos"].map(function (t) {
        return api("GET", "/api/v1/search?limit=12&type=" + t + "&q=" + encodeURIComponent(text)).then(function (r) { return r.items; }, function () { return []; });
      })).then(function (res) {
        if (mine !== seq) return;
        var people = box.querySelector(".people"), tags = box.querySelector("[data-type=tags] .tags"), grid = box.querySelector("[data-type=videos] .grid");
        people.textContent = ""; tags.textContent = ""; grid.textContent = "";
        res[0].forEach(function (a) { var li = el("li"); li.appendChild(el("a", { href: "/@" + a.username }, a.display_name + " @" + a.username)); people.appendChild(li); });
        res[1].forEach(function (t) { var li = el("li"); li.appendChild(el("a", { href: "/tags/" + encodeURIComponent(t.tag) }, "#" + t.tag + " · " + t.videos)); tags.appendChild(li); });
        res[2].forEach(function (v) {
          var li = el("li"), a = el("a", { href: "/v/" + v.id, "class": "tile" });
          if (v.preview_url || v.poster_url) a.appendChild(el("img", { src: v.preview_url || v.poster_url, alt: v.caption, loading: "lazy" }));
          li.appendChild(a); grid.appendChild(li);
        });
        box.querySelectorAll(".results").forEach(function (sec, i) { sec.hidden = res[i].length === 0; });
        box.querySelector(".search-empty").hidden = res[0].length + res[1].length + res[2].length > 0;
      });
    };
    q.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(run, 180); });
    q.form.addEventListener("submit", function (e) { e.preventDefault(); run(); });
    if (q.value) run();
    api("GET", "/api/v1/tags/trending").then(function (r) {
      var ul = document.getElementById("trending");
      r.items.forEach(function (t) { var li = el("li"); li.appendChild(el("a", { href: "/tags/" + encodeURIComponent(t.tag) }, "#" + t.tag + " · " + t.videos)); ul.appendChild(li); });
      if (!r.items.length) ul.parentNode.hidden = true;
    }).catch(function () {});
  }

  // ---------- inbox and unread badge ----------
  var KIND = { follow: "started following you", follow_request: "asked to follow you", follow_accepted: "accepted your follow request",
    like: "liked your video", comment: "commented on your video", reply: "replied to your comment", mention: "mentioned you" };
  var notes = document.getElementById("notifications");
  // A moderation decision: what, why, and a way to appeal it once.
  var DECISION = { remove: "Moderators removed your ", restrict: "Moderators limited your account: it no longer appears in For You or search",
    suspend: "Moderators suspended your account", reinstate: "Your appeal succeeded: the decision was reversed", dismiss: "Your appeal was reviewed: the decision stands" };
  var APPEAL = { open: "Your appeal is waiting for a moderator.", upheld: "Appeal reviewed: the decision stands.", reinstated: "Appeal succeeded: reversed." };
  function moderationNote(n, li) {
    var m = n.moderation;
    li.className += " moderation";
    li.setAttribute("data-action", m.action_id);
    var what = DECISION[m.action] || m.action;
    if (m.action === "remove") what += m.target === "comment" ? "comment" : "video";
    li.appendChild(el("b", {}, what));
    if (m.action === "remove" && n.video) { li.appendChild(document.createTextNode(" ")); li.appendChild(el("a", { href: "/v/" + n.video.id }, "“" + (n.video.caption || "video").slice(0, 40) + "”")); }
    li.appendChild(el("p", { "class": "why" }, "Reason: " + m.reason.replace(/-/g, " ") + (m.note ? " — " + m.note : "")));
    if (APPEAL[m.appeal]) li.appendChild(el("p", { "class": "handle appeal-state" }, APPEAL[m.appeal]));
    if (m.can_appeal) {
      var open = el("button", { "class": "button secondary appeal-open" }, "Appeal");
      var form = el("form", { "class": "appeal-form", hidden: "" });
      var ta = el("textarea", { name: "text", maxlength: "2000", rows: "3", required: "", placeholder: "Why is this decision wrong? You can appeal once." });
      form.appendChild(ta);
      form.appendChild(el("button", { "class": "button", type: "submit" }, "Send appeal"));
      open.addEventListener("click", function () { form.hidden = false; open.hidden = true; ta.focus(); });
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        api("POST", "/api/v1/moderation/" + m.action_id + "/appeal", { text: ta.value }).then(function () {
          form.replaceWith(el("p", { "class": "handle appeal-state" }, APPEAL.open));
          toast("Appeal sent");
        }).catch(function (err) { toast(err.message); });
      });
      li.appendChild(open); li.appendChild(form);
    }
    return li;
  }
  if (notes) {
    api("GET", "/api/v1/notifications?limit=100").then(function (r) {
      r.items.forEach(function (n) {
        var li = el("li", { "class": n.read ? "" : "unread" });
        if (n.kind === "moderation" && n.moderation) { notes.appendChild(moderationNote(n, li)); return; }
        if (n.kind === "export_ready") {
          li.appendChild(document.createTextNode("Your data download is ready: "));
          li.appendChild(el("a", { href: "/settings" }, "save it from settings"));
          notes.appendChild(li);
          return;
        }
        li.appendChild(el("a", { href: "/@" + n.actor.username, "class": "who" }, "@" + n.actor.username));
        li.appendChild(document.createTextNode(" " + (KIND[n.kind] || n.kind) + " "));
        if (n.video) li.appendChild(el("a", { href: "/v/" + n.video.id }, "“" + (n.video.caption || "video").slice(0, 40) + "”"));
        notes.appendChild(li);
      });
      document.getElementById("inbox-empty").hidden = r.items.length > 0;
      if (r.unread) api("POST", "/api/v1/notifications/read", {}).catch(function () {});
    }).catch(function (e) { toast(e.message); });
    api("GET", "/api/v1/follow-requests").then(function (r) {
      var box = document.getElementById("requests"), ul = box.querySelector("ul");
      box.hidden = r.items.length === 0;
      r.items.forEach(function (a) {
        var li = el("li");
        li.appendChild(el("a", { href: "/@" + a.username }, "@" + a.username));
        ["accept", "reject"].forEach(function (act) {
          var b = el("button", { "class": "button " + (act === "reject" ? "secondary" : "") }, act === "accept" ? "Accept" : "Decline");
          b.addEventListener("click", function () {
            api("POST", "/api/v1/follow-requests/" + a.username + "/" + act).then(function () { li.remove(); }).catch(function (e) { toast(e.message); });
          });
          li.appendChild(b);
        });
        ul.appendChild(li);
      });
    }).catch(function () {});
  } else if (signedIn) {
    api("GET", "/api/v1/notifications?limit=100").then(function (r) {
      var b = document.querySelector(".tabbar .badge-count");
      if (b && r.unread > 0) { b.textContent = r.unread > 99 ? "99+" : r.unread; b.hidden = false; }
    }).catch(function () {});
  }

  // ---------- For You: personalised or not ----------
  var mode = document.getElementById("feedmode");
  if (mode) mode.addEventListener("click", function () {
    var on = mode.dataset.personalized !== "true";
    api("PATCH", "/api/v1/me", { personalized_feed: on }).then(function () { location.reload(); }).catch(function (err) { toast(err.message); });
  });
  var pf = document.getElementById("personalized-feed");
  if (pf) pf.addEventListener("change", function () {
    api("PATCH", "/api/v1/me", { personalized_feed: pf.checked }).then(function () {
      toast(pf.checked ? "For You is personalised" : "For You is not based on your activity");
    }).catch(function (err) { pf.checked = !pf.checked; toast(err.message); });
  });

  // ---------- moderation: opening a hidden item (a logged access, so a POST) ----------
  var openItem = document.getElementById("open-item");
  if (openItem) openItem.addEventListener("click", function () {
    openItem.disabled = true;
    var id = openItem.dataset.id;
    api("POST", "/api/v1/staff/reports/" + encodeURIComponent(id) + "/open")
      .then(function (r) { location.href = "/admin/reports/" + encodeURIComponent(id) + (r.log_index != null ? "?opened=" + r.log_index : ""); })
      .catch(function (err) { openItem.disabled = false; toast(err.message); });
  });

  // ---------- moderation: deciding a report ----------
  var decide = document.getElementById("decide");
  if (decide) {
    decide.addEventListener("submit", function (e) {
      e.preventDefault();
      var f = new FormData(decide), btn = decide.querySelector("button[type=submit]");
      btn.disabled = true;
      api("POST", "/api/v1/staff/actions", { report_id: f.get("report_id"), action: f.get("action"), reason: f.get("reason"), note: f.get("note") || "" })
        .then(function (d) {
          toast("Decided: " + d.action);
          document.getElementById("report-status").textContent = d.report_status;
          decide.replaceWith(el("p", { "class": "notice decision", id: "decided" }, "Decided: " + d.action + " (" + d.reason + "). The person affected has been told."));
          setTimeout(function () { location.href = "/admin"; }, 1200);
        })
        .catch(function (err) { btn.disabled = false; toast(err.message); });
    });
  }

  // ---------- owner's edit sheet on the share page ----------
  var editSheet = document.getElementById("edit-sheet");
  if (editSheet) {
    var editForm = document.getElementById("edit-form");
    document.querySelector(".edit-open").addEventListener("click", function () {
      editSheet.hidden = false; requestAnimationFrame(function () { editSheet.classList.add("open"); });
    });
    editSheet.querySelector(".close").addEventListener("click", function () {
      editSheet.classList.remove("open"); setTimeout(function () { editSheet.hidden = true; }, 250);
    });
    editForm.addEventListener("submit", function (e) {
      e.preventDefault();
      api("PATCH", "/api/v1/videos/" + editForm.dataset.id, {
        caption: editForm.caption.value, visibility: editForm.visibility.value, comments: editForm.comments.value
      }).then(function () { toast("Saved"); setTimeout(function () { location.reload(); }, 500); })
        .catch(function (err) { toast(err.message); });
    });
    document.getElementById("delete-video").addEventListener("click", function () {
      if (!confirm("Delete this video for good?")) return;
      api("DELETE", "/api/v1/videos/" + editForm.dataset.id).then(function () { location.href = "/"; })
        .catch(function (err) { toast(err.message); });
    });
  }

  // ---------- settings ----------
  var avatarForm = document.getElementById("avatar-form");
  if (avatarForm) {
    avatarForm.file.addEventListener("change", function () {
      var f = avatarForm.file.files[0], st = document.getElementById("avatar-status");
      if (!f) return;
      var fd = new FormData(); fd.append("file", f);
      st.textContent = "Uploading…";
      fetch("/api/v1/me/avatar", { method: "POST", body: fd, credentials: "same-origin", headers: { "X-CSRF-Token": csrf } })
        .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error.message); return j; }); })
        .then(function () { st.textContent = "Saved."; })
        .catch(function (e) { st.textContent = e.message; });
    });
  }
  var settings = document.getElementById("settings-form");
  if (settings) {
    settings.addEventListener("submit", function (e) {
      e.preventDefault();
      api("PATCH", "/api/v1/me", { display_name: settings.display_name.value, bio: settings.bio.value, private: settings.private.checked, likes_public: settings.likes_public.checked })
        .then(function (a) { toast("Saved"); setTimeout(function () { location.href = "/@" + a.username; }, 600); })
        .catch(function (err) { toast(err.message); });
    });
  }
  var pw = document.getElementById("password-form");
  if (pw) {
    pw.addEventListener("submit", function (e) {
      e.preventDefault();
      api("POST", "/api/v1/me/password", { current_password: pw.current_password.value, new_password: pw.new_password.value })
        .then(function () { pw.reset(); toast("Password changed; other devices are signed out"); })
        .catch(function (err) { toast(err.message); });
    });
  }
  var everywhere = document.getElementById("signout-everywhere");
  if (everywhere) {
    everywhere.addEventListener("click", function () {
      if (!confirm("Sign out on every device, this one included?")) return;
      api("DELETE", "/api/v1/me/sessions").then(function () { location.href = "/login"; }).catch(function (err) { toast(err.message); });
    });
  }
  var exportBtn = document.getElementById("export-start");
  if (exportBtn) {
    var exportStatus = document.getElementById("export-status");
    var pollExport = function (id, started) {
      api("GET", "/api/v1/me/exports/" + id).then(function (e) {
        if (e.status === "ready") {
          exportStatus.textContent = "";
          var a = document.createElement("a");
          a.href = e.download_url; a.className = "button"; a.textContent = "Save the ZIP (" + Math.max(1, Math.round(e.bytes / 1048576)) + " MB)";
          exportStatus.appendChild(a);
          exportBtn.disabled = false;
        } else if (e.status === "failed") {
          exportStatus.textContent = "The archive could not be built: " + (e.error || "try again later");
          exportBtn.disabled = false;
        } else {
          exportStatus.textContent = "Gathering your videos and data… " + Math.round((Date.now() - started) / 1000) + " s";
          setTimeout(function () { pollExport(id, started); }, 1500);
        }
      }).catch(function (err) { exportStatus.textContent = err.message; exportBtn.disabled = false; });
    };
    exportBtn.addEventListener("click", function () {
      exportBtn.disabled = true;
      exportStatus.textContent = "Starting…";
      api("POST", "/api/v1/me/exports").then(function (e) { pollExport(e.id, Date.now()); })
        .catch(function (err) { exportStatus.textContent = err.message; exportBtn.disabled = false; });
    });
  }
  var del = document.getElementById("delete-form");
  if (del) {
    del.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!confirm("Delete your account? This cannot be undone once the grace period is over.")) return;
      api("DELETE", "/api/v1/me", { password: del.password.value })
        .then(function (r) { toast("Your account is scheduled for deletion on " + r.erase_at.slice(0, 10)); setTimeout(function () { location.href = "/"; }, 1200); })
        .catch(function (err) { toast(err.message); });
    });
  }
  var imp = document.getElementById("import-form");
  if (imp) {
    imp.addEventListener("submit", function (e) {
      e.preventDefault();
      var f = imp.file.files[0], st = document.getElementById("import-status"), bar = document.getElementById("import-progress");
      if (!f) return;
      var x = new XMLHttpRequest();
      x.open("POST", "/api/v1/me/imports");
      x.setRequestHeader("Content-Type", "application/zip");
      x.setRequestHeader("X-CSRF-Token", csrf);
      bar.hidden = false;
      x.upload.onprogress = function (ev) { if (ev.lengthComputable) bar.value = Math.round(ev.loaded * 100 / ev.total); };
      x.onload = function () {
        var j = {}; try { j = JSON.parse(x.responseText); } catch (err) {}
        if (x.status === 201) st.textContent = "Imported " + j.videos.length + " videos; they are processing and appear on your profile when ready.";
        else st.textContent = (j.error && j.error.message) || ("Import failed (HTTP " + x.status + ")");
      };
      x.onerror = function () { st.textContent = "The connection dropped; try again."; };
      st.textContent = "Uploading the archive…";
      x.send(f);
    });
  }
})();
