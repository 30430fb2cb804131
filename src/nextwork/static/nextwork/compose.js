/* The message form's live count (messaging/compose/form.html): the "Compter" button does
   the same without JavaScript. (form.action is shadowed by the buttons named "action".) */
(function () {
  var form = document.getElementById("compose"), box = document.getElementById("count"), timer;
  if (!form || !box || !window.fetch || !window.FormData) return;
  function count() {
    var data = new FormData(form);
    data.set("action", "count");
    fetch(form.getAttribute("action"), {method: "POST", body: data, credentials: "same-origin", headers: {"X-Requested-With": "count"}})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { box.innerHTML = html; })
      .catch(function () {});
  }
  form.addEventListener("change", function (event) {
    if (event.target.closest("[data-counts]")) { clearTimeout(timer); timer = setTimeout(count, 500); }
  });
})();
