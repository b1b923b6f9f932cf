// The hosted connect page (API.md §8): validates the connect token, lets the end user pick an
// app, runs the OAuth popup or the key form, and reports to the embedding page with
// postMessage ({type: "success", authProvisionId} | {type: "error", error} | {type: "close"})
// or by redirecting to the token's redirect URIs. Plain JavaScript, no dependencies.
(function () {
  "use strict";
  var root = document.getElementById("connect");
  var params = new URLSearchParams(window.location.search);
  var token = params.get("token") || "";
  var state = {
    app: params.get("app") || "",
    accountId: params.get("accountId") || "",
    oauthAppId: params.get("oauthAppId") || "",
    appOverrideId: params.get("appOverrideId") || "",
    connectLink: params.get("connectLink") === "true",
    hideClose: params.get("hideClose") === "true",
    origins: (root.dataset.origins || "").split(" ").filter(Boolean),
    validation: null,
    done: false,
  };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }

  function show(nodes) {
    root.replaceChildren.apply(root, nodes);
  }

  // To whoever embedded or opened this page: only the token's allowed origins can receive it.
  function notify(message) {
    var targets = [window.parent !== window ? window.parent : null, window.opener].filter(Boolean);
    targets.forEach(function (target) {
      if (state.origins.length === 0) target.postMessage(message, "*");
      else state.origins.forEach(function (o) { target.postMessage(message, o); });
    });
  }

  function finish(ok, detail) {
    if (state.done) return;
    state.done = true;
    var v = state.validation || {};
    if (ok) {
      notify({ type: "success", authProvisionId: detail });
      show([el("h1", { text: "Connected" }), el("p", { role: "status", text: "Your account is connected. You can close this window." })]);
      if (v.success_redirect_uri && (state.connectLink || !hasEmbedder())) window.location.assign(v.success_redirect_uri);
    } else {
      notify({ type: "error", error: detail });
      show([el("h1", { text: "Connection failed" }), el("p", { role: "alert", text: detail })]);
      if (v.error_redirect_uri && (state.connectLink || !hasEmbedder())) window.location.assign(v.error_redirect_uri);
    }
  }

  function hasEmbedder() {
    return window.parent !== window || !!window.opener;
  }

  function api(path, options) {
    options = options || {};
    options.headers = Object.assign({ authorization: "Bearer " + token, accept: "application/json" }, options.headers || {});
    return fetch(path, options).then(function (r) {
      return r.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        if (!r.ok) throw new Error(readable(body) || "Latchkey answered " + r.status);
        return body;
      });
    });
  }

  // The API prefixes invalid-input messages with the field ("cfmap_json: …"): a name for
  // programs, not for the person at the form.
  function readable(body) {
    var message = (body && body.error) || "";
    var prefix = body && body.field ? body.field + ": " : "";
    if (prefix && message.indexOf(prefix) === 0) message = message.slice(prefix.length);
    return message.charAt(0).toUpperCase() + message.slice(1);
  }

  function closeButton() {
    if (state.hideClose) return [];
    var b = el("button", { type: "button", class: "secondary", text: "Close" });
    b.addEventListener("click", function () { notify({ type: "close" }); if (window.opener) window.close(); });
    return [b];
  }

  function validate() {
    var q = new URLSearchParams();
    if (state.app) q.set("app_id", state.app);
    if (state.accountId) q.set("account_id", state.accountId);
    if (state.oauthAppId) q.set("oauth_app_id", state.oauthAppId);
    if (state.appOverrideId) q.set("app_override_id", state.appOverrideId);
    return fetch("/v1/connect/tokens/" + encodeURIComponent(token) + "/validate?" + q.toString())
      .then(function (r) { return r.json(); });
  }

  function pickApp() {
    var list = el("ul", { class: "apps", "aria-label": "Apps" });
    var search = el("input", { type: "search", placeholder: "Search apps", "aria-label": "Search apps" });
    function load() {
      api("/v1/connect/apps?limit=50&q=" + encodeURIComponent(search.value)).then(function (body) {
        list.replaceChildren.apply(list, body.data.map(function (app) {
          var b = el("button", { type: "button", "data-app": app.name_slug, text: app.name });
          b.addEventListener("click", function () { state.app = app.name_slug; start(); });
          return el("li", {}, [b]);
        }));
      }).catch(function (e) { finish(false, e.message); });
    }
    search.addEventListener("input", load);
    show([el("h1", { text: "Connect an account" }), search, list].concat(closeButton()));
    load();
  }

  function oauthStep(app) {
    var button = el("button", { type: "button", id: "connect-oauth", text: "Connect " + app.name });
    var status = el("p", { role: "status" });
    button.addEventListener("click", function () {
      var popup = window.open("", "latchkey_oauth", "popup,width=520,height=720");
      var form = el("form", { method: "post", action: "/oauth/connect/start", target: popup ? "latchkey_oauth" : "_self" });
      [["token", token], ["app", app.name_slug], ["account_id", state.accountId], ["oauth_app_id", state.oauthAppId], ["app_override_id", state.appOverrideId]].forEach(function (p) {
        form.appendChild(el("input", { type: "hidden", name: p[0], value: p[1] }));
      });
      document.body.appendChild(form);
      form.submit();
      form.remove();
      status.textContent = "Waiting for " + app.name + "…";
    });
    // The OAuth popup reports back with the same message shapes, from this origin only.
    window.addEventListener("message", function (event) {
      if (event.origin !== window.location.origin || !event.data || !event.data.type) return;
      if (event.data.type === "success") finish(true, event.data.authProvisionId);
      else if (event.data.type === "error") finish(false, event.data.error);
    });
    show([el("h1", { text: "Connect " + app.name }), el("p", { text: (state.validation.project_app_name || "This app") + " will be able to use your " + app.name + " account." }), button, status].concat(closeButton()));
  }

  function keysStep(app) {
    var fields = [];
    try { fields = JSON.parse(app.custom_fields_json || "[]"); } catch (e) { fields = []; }
    // Fields an app override presets are not asked for (the server fills them in).
    var preset = (state.validation && state.validation.app_override_field_names) || [];
    fields = fields.filter(function (f) { return preset.indexOf(f.name) === -1; });
    var form = el("form", { id: "connect-keys" });
    fields.forEach(function (f) {
      var id = "field-" + f.name;
      var input = el("input", { id: id, name: f.name, type: f.type === "password" ? "password" : "text", autocomplete: "off" });
      if (!f.optional) input.setAttribute("required", "");
      if (f.default) input.value = f.default;
      form.appendChild(el("label", { for: id, text: f.label || f.name }));
      form.appendChild(input);
      if (f.description) form.appendChild(el("small", { text: f.description }));
    });
    var error = el("p", { role: "alert", class: "error" });
    var submit = el("button", { type: "submit", text: "Connect" });
    form.appendChild(error);
    form.appendChild(submit);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var values = {};
      fields.forEach(function (f) { var v = form.elements[f.name].value; if (v !== "") values[f.name] = v; });
      submit.disabled = true;
      error.textContent = "";
      api("/v1/connect/accounts", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ app_slug: app.name_slug, cfmap_json: JSON.stringify(values), connect_token: token, app_override_id: state.appOverrideId || undefined }),
      }).then(function (account) { finish(true, account.id); })
        .catch(function (e) { submit.disabled = false; error.textContent = e.message; });
    });
    show([el("h1", { text: "Connect " + app.name }), form].concat(closeButton()));
  }

  function start() {
    validate().then(function (v) {
      state.validation = v;
      if (!v.success) return finish(false, v.error || "This connect link cannot be used.");
      if (!v.app) return pickApp();
      if (v.app.auth_type === "oauth") return oauthStep(v.app);
      return keysStep(v.app);
    }).catch(function () { finish(false, "Latchkey could not be reached. Try again."); });
  }

  if (!/^ctok_[0-9a-f]{32}$/.test(token)) {
    finish(false, "This connect link is incomplete: it has no valid token.");
  } else {
    start();
  }
})();
