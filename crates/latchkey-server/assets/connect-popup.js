// Runs the OAuth sign-in of the "Connect" page in a popup: the form posts into the popup, the
// popup's last page posts {type: "success", authProvisionId} (or an error) back to this page,
// from this origin only, and this page then shows the new account. Without JavaScript the form
// simply runs in this window.
(function () {
  "use strict";
  var form = document.getElementById("oauth-start");
  var status = document.getElementById("oauth-status");
  if (!form) return;
  form.addEventListener("submit", function () {
    var name = form.dataset.popup;
    var popup = window.open("", name, "popup,width=520,height=720");
    if (popup) form.target = name;
    status.textContent = "Waiting for the sign-in to finish…";
  });
  window.addEventListener("message", function (event) {
    if (event.origin !== window.location.origin || !event.data || !event.data.type) return;
    if (event.data.type === "success") {
      window.location.assign("/accounts/" + encodeURIComponent(event.data.authProvisionId) + "?connected=1");
    } else if (event.data.type === "error") {
      status.textContent = event.data.error || "The connection failed.";
      status.className = "error";
    }
  });
})();
