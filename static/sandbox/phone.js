// The customer phone: keep the thread scrolled to the newest message and clear the composer after a send.
// No inline script anywhere (strict CSP); htmx does the requests.
(function () {
  "use strict";

  function scrollToEnd() {
    var box = document.getElementById("thread-box");
    if (box) { box.scrollTop = box.scrollHeight; }
  }

  document.addEventListener("DOMContentLoaded", scrollToEnd);

  // Media grows the thread once it loads: stay at the newest message.
  ["load", "loadedmetadata"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      if (event.target.closest && event.target.closest("#thread-box")) { scrollToEnd(); }
    }, true);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "thread-box") { scrollToEnd(); }
  });

  // Emoji buttons insert at the cursor, like a phone keyboard's emoji row.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-emoji]");
    if (!button) { return; }
    var input = document.querySelector("#composer input[name=text]");
    var start = input.selectionStart === null ? input.value.length : input.selectionStart;
    var end = input.selectionEnd === null ? input.value.length : input.selectionEnd;
    input.value = input.value.slice(0, start) + button.dataset.emoji + input.value.slice(end);
    input.focus();
    var caret = start + button.dataset.emoji.length;
    input.setSelectionRange(caret, caret);
  });

  // "Reply" on a message: the next send carries reply_to.mid.
  function setReply(mid, text) {
    var field = document.getElementById("reply-to");
    var banner = document.getElementById("replying");
    if (!field || !banner) { return; }
    field.value = mid || "";
    banner.querySelector("span").textContent = text || "";
    banner.hidden = !mid;
  }

  document.addEventListener("click", function (event) {
    var reply = event.target.closest("button[data-reply-mid]");
    if (reply) {
      setReply(reply.dataset.replyMid, reply.dataset.replyText);
      document.querySelector("#composer input[name=text]").focus();
    } else if (event.target.closest("#cancel-reply")) {
      setReply("", "");
    }
  });

  // The server sends HX-Trigger: sandbox-sent after a text was sent.
  document.addEventListener("sandbox-sent", function () {
    var composer = document.getElementById("composer");
    if (!composer) { return; }
    composer.querySelectorAll("input[name=text], input[name=sent_hours_ago]").forEach(function (input) {
      input.value = "";
    });
    setReply("", "");
    var more = composer.querySelector("details.more");
    if (more) { more.open = false; }
    composer.querySelector("input[name=text]").focus();
  });
})();
