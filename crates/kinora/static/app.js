// Kinora web UI: feed autoplay, tap for sound/pause, preloading, infinite scroll,
// and uploads with a progress bar. Small and dependency-free on purpose.
(function () {
  "use strict";
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.content : "";
  var soundOn = false;

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

    feed.addEventListener("click", function (e) {
      var card = e.target.closest(".card");
      if (!card || e.target.closest("a")) return;
      var v = card.querySelector("video");
      if (!soundOn) { soundOn = true; v.muted = false; if (v.paused) v.play(); if (tip) tip.hidden = true; flash(card, "🔊"); return; }
      if (v.paused) { v.play(); flash(card, "▶"); } else { v.pause(); flash(card, "❚❚"); }
    });

    function watch(card) { io.observe(card); }
    feed.querySelectorAll(".card").forEach(watch);

    function cardFor(item) {
      var src = item.sources && item.sources[item.sources.length - 1];
      if (!src) return null;
      var card = el("section", { "class": "card", "data-id": item.id });
      var v = el("video", { "class": "player", playsinline: "", muted: "", loop: "", preload: "none",
        poster: item.poster_url || "", "data-src": src.url, width: src.width, height: src.height,
        "data-sources": JSON.stringify(item.sources) });
      v.muted = true;
      var o = el("div", { "class": "overlay" });
      o.appendChild(el("a", { "class": "author", href: "/@" + item.author.username }, "@" + item.author.username));
      o.appendChild(el("p", { "class": "caption" }, item.caption || ""));
      card.appendChild(v); card.appendChild(o); card.appendChild(el("div", { "class": "hint", "aria-hidden": "true" }));
      return card;
    }

    function loadMore() {
      var kind = feed.dataset.feed, cursor = feed.dataset.next;
      if (loading || !cursor || (kind !== "for-you" && kind !== "following")) return;
      loading = true;
      fetch("/api/v1/feed/" + kind + "?limit=8&cursor=" + encodeURIComponent(cursor), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
        .then(function (page) {
          page.items.forEach(function (it) { var c = cardFor(it); if (c) { feed.appendChild(c); watch(c); } });
          feed.dataset.next = page.next_cursor || "";
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
        headers: { "X-CSRF-Token": csrf },
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
        if (prev.length) current.resumeFromPreviousUpload(prev[0]);
        current.start();
      });
    });
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
})();
