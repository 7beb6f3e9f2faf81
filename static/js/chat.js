// The Chat page: its live stream, the tunnel countdown, the composer. No framework, no build step.
// Fragments come from the server (htmx partials); this file only decides where they go and when to ask for more.
(function () {
  "use strict";

  var chat = document.getElementById("chat");
  if (!chat) return;
  var pane = document.getElementById("chat-pane");
  var baseTitle = chat.dataset.title || document.title;
  var unread = 0;

  function openTicketId() {
    var conversation = pane.querySelector(".conversation");
    return conversation ? conversation.dataset.ticketId : null;
  }

  // ---- live fragments -----------------------------------------------------------------------------------

  // An element replaces the one with its id; a new one joins the element named by data-into, when the page
  // shows it; data-remove removes. Fragments about what this page does not show are dropped.
  function applyUpdate(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html;
    Array.prototype.slice.call(holder.content.children).forEach(function (element) {
      var existing = element.id && document.getElementById(element.id);
      if (element.hasAttribute("data-remove")) {
        if (existing) existing.remove();
        return;
      }
      if (existing) {
        existing.replaceWith(element);
      } else {
        var into = element.dataset.into && document.getElementById(element.dataset.into);
        if (!into) return;
        var atBottom = nearBottom(into);
        into.appendChild(element);
        if (atBottom) scrollToEnd(into);
      }
      htmx.process(element);
      countdown();
    });
  }

  function nearBottom(thread) {
    return thread.scrollHeight - thread.scrollTop - thread.clientHeight < 120;
  }

  function scrollToEnd(thread) {
    thread.scrollTop = thread.scrollHeight;
  }

  // A fragment of the open ticket, fetched again. A ticket that left this user's sight (transferred to another
  // department) answers 404: the pane then says so instead of showing what may no longer be seen.
  function refetch(path, element) {
    return fetch(chat.dataset.ticketsUrl + path, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 404) {
          htmx.ajax("GET", chat.dataset.chatUrl, { target: pane, select: "#pane-empty", swap: "innerHTML" });
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html === null || !element.isConnected) return null;
        var holder = document.createElement("template");
        holder.innerHTML = html.trim();
        var fresh = holder.content.firstElementChild;
        element.replaceWith(fresh);
        htmx.process(fresh);
        countdown();
        return fresh;
      })
      .catch(function () { return null; });
  }

  // The head of the open ticket again; the composer too when what it may do changed (tunnel, owner, closing),
  // so a half-written message survives any other change.
  function refreshTicket(ticketId) {
    var head = document.getElementById("ticket-head-" + ticketId);
    if (!head) return;
    refetch(ticketId + "/head", head).then(function (fresh) {
      var composer = document.getElementById("composer-" + ticketId);
      if (fresh && composer && fresh.dataset.composerState !== composer.dataset.state) {
        refetch(ticketId + "/composer", composer).then(function (form) {
          var text = form && form.querySelector("textarea[name=text]");
          if (!text) return;
          // What the agent was writing stays, and whether as a comment: read from the replaced composer at the
          // moment of the swap, so nothing typed while the new one was on its way is lost.
          text.value = composer.querySelector("textarea[name=text]").value;
          var comment = form.querySelector("input[name=mode][value=comment]");
          if (comment && composer.querySelector("input[name=mode][value=comment]").checked) comment.checked = true;
          modeChanged(form);
        });
      }
    });
  }

  function resync() {
    htmx.trigger(document.body, "tickets-changed");
    var ticketId = openTicketId();
    if (ticketId) {
      refetch(ticketId + "/thread", document.getElementById("thread-" + ticketId)).then(function (fresh) {
        if (fresh) scrollToEnd(fresh);
      });
      refreshTicket(ticketId);
    }
  }

  // ---- the stream -----------------------------------------------------------------------------------------

  var source = null;
  var lastId = chat.dataset.liveAfter || "0";
  var retryDelay = 1000;

  function connect() {
    if (source) source.close();
    // The last id rides in the URL as well: a new EventSource does not send Last-Event-ID.
    source = new EventSource(chat.dataset.liveUrl + "?after=" + encodeURIComponent(lastId));
    chat.dataset.live = "connecting";
    source.onopen = function () {
      retryDelay = 1000;
      chat.dataset.live = "open";
      document.body.classList.remove("is-offline");
    };
    function remember(event) {
      if (event.lastEventId) lastId = event.lastEventId;
    }
    source.addEventListener("update", function (event) {
      remember(event);
      applyUpdate(event.data);
    });
    source.addEventListener("tickets", function (event) {
      remember(event);
      htmx.trigger(document.body, "tickets-changed");
      if (event.data === openTicketId()) refreshTicket(event.data);
    });
    source.addEventListener("lists", function (event) {
      remember(event);
      htmx.trigger(document.body, "tickets-changed");
    });
    source.addEventListener("dm", function (event) {
      remember(event);
      announce(JSON.parse(event.data));
    });
    source.addEventListener("resync", function (event) {
      lastId = event.data || event.lastEventId || lastId;
      resync();
    });
    source.onerror = function () {
      chat.dataset.live = "closed";
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (the server refused, or went away for good): try again, slower each time.
        window.setTimeout(connect, retryDelay);
        retryDelay = Math.min(retryDelay * 2, 30000);
      }
    };
  }

  // ---- new DMs: the tab title and a notification ------------------------------------------------------

  // Only DMs that are this agent's to answer: their own chats, and tickets still waiting for someone (not a
  // colleague's conversation, which the colleague hears about).
  function announce(dm) {
    var looking = !document.hidden && String(dm.ticket) === openTicketId();
    var mine = dm.assigned_to === null || dm.assigned_to === undefined || String(dm.assigned_to) === chat.dataset.userId;
    if (looking || !mine) return;
    unread += 1;
    document.title = "(" + unread + ") " + baseTitle;
    if (document.hidden && "Notification" in window && Notification.permission === "granted") {
      var note = new Notification(dm.name || baseTitle, { body: dm.text || "", tag: "direto-ticket-" + dm.ticket });
      note.onclick = function () {
        window.focus();
        window.location.href = chat.dataset.ticketsUrl + dm.ticket;
      };
    }
  }

  var asking = document.querySelector("[data-enable-notifications]");
  if (asking && "Notification" in window && Notification.permission === "default") {
    asking.hidden = false;
    asking.addEventListener("click", function () {
      Notification.requestPermission().then(function () { asking.hidden = true; });
    });
  }

  // A phone brings the page back: whatever the stream missed while asleep is fetched again.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) return;
    unread = 0;
    document.title = baseTitle;
    if (!source || source.readyState === EventSource.CLOSED) connect();
    resync();
  });

  // ---- the tunnel countdown ---------------------------------------------------------------------------

  var HOUR = 3600 * 1000;

  function countdown() {
    var now = Date.now();
    document.querySelectorAll(".tunnel[data-closes-at]").forEach(function (badge) {
      var left = Date.parse(badge.dataset.closesAt) - now;
      if (left > 0) {
        var minutes = Math.floor(left / 60000);
        badge.textContent = badge.dataset.format.replace("{h}", Math.floor(minutes / 60)).replace("{m}", minutes % 60);
        badge.classList.toggle("warn", left < HOUR);
        badge.classList.toggle("ok", left >= HOUR);
        return;
      }
      badge.textContent = badge.dataset.closed;
      badge.classList.remove("ok", "warn");
      badge.classList.add("off");
      badge.removeAttribute("data-closes-at");
      if (badge.id) tunnelClosed(badge.dataset.ticketId);
    });
  }

  // At expiry the composer stops sending at once; the server's own notice follows with the next live event.
  function tunnelClosed(ticketId) {
    var composer = document.getElementById("composer-" + ticketId);
    if (!composer || composer.dataset.state !== "open") return;
    composer.dataset.state = "tunnel_closed";
    var notice = composer.querySelector("template.tunnel-closed-notice");
    composer.insertBefore(notice.content.cloneNode(true), notice.nextSibling);
    var message = composer.querySelector("input[name=mode][value=message]");
    message.disabled = true;
    composer.querySelector("input[name=mode][value=comment]").checked = true;
    composer.querySelectorAll(".emoji-picker, .attach, .quick-replies").forEach(function (tool) { tool.remove(); });
    modeChanged(composer);
  }

  countdown();
  window.setInterval(countdown, 1000);

  // ---- the composer -------------------------------------------------------------------------------------

  var encoder = new TextEncoder();

  function composerOf(element) {
    return element.closest && element.closest("form.composer");
  }

  function modeChanged(composer) {
    var comment = composer.querySelector("input[name=mode][value=comment]").checked;
    var text = composer.querySelector("textarea[name=text]");
    composer.classList.toggle("is-comment", comment);
    text.placeholder = comment ? text.dataset.placeholderComment : text.dataset.placeholderMessage;
    measure(composer);
  }

  // Instagram counts bytes, not characters: an emoji is four.
  function measure(composer) {
    var text = composer.querySelector("textarea[name=text]");
    var counter = composer.querySelector(".counter");
    var send = composer.querySelector("button.send");
    var comment = composer.querySelector("input[name=mode][value=comment]").checked;
    var used = encoder.encode(text.value.trim()).length;
    var limit = parseInt(text.dataset.limit, 10);
    var over = !comment && used > limit;
    counter.textContent = comment ? "" : counter.dataset.label.replace("{used}", used).replace("{limit}", limit);
    counter.classList.toggle("over", over);
    send.disabled = over;
    text.style.height = "auto";
    text.style.height = Math.min(text.scrollHeight, 160) + "px";
    quickReplies(composer, text.value);
  }

  function quickReplies(composer, value) {
    var list = composer.querySelector(".quick-replies");
    if (!list) return;
    var typed = /^\/(\S*)$/.exec(value);
    var shown = 0;
    list.querySelectorAll("button[data-shortcut]").forEach(function (button) {
      var match = typed && button.dataset.shortcut.indexOf(typed[1].toLowerCase()) === 0;
      button.parentElement.hidden = !match;
      if (match) shown += 1;
    });
    list.hidden = shown === 0;
  }

  function insertAtCursor(text, value) {
    var start = text.selectionStart || 0;
    var end = text.selectionEnd || 0;
    text.value = text.value.slice(0, start) + value + text.value.slice(end);
    text.selectionStart = text.selectionEnd = start + value.length;
    text.focus();
  }

  document.addEventListener("input", function (event) {
    var composer = composerOf(event.target);
    if (composer && event.target.name === "text") measure(composer);
  });

  document.addEventListener("change", function (event) {
    var composer = composerOf(event.target);
    if (!composer) return;
    if (event.target.name === "mode") modeChanged(composer);
    if (event.target.type === "file" && event.target.files.length) upload(composer, event.target);
  });

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target : event.target.parentElement;
    var reply = target.closest("button[data-shortcut]");
    if (reply) {
      var composer = composerOf(reply);
      var text = composer.querySelector("textarea[name=text]");
      text.value = reply.dataset.text;
      text.focus();
      measure(composer);
      return;
    }
    var emoji = target.closest("button[data-emoji]");
    if (emoji) {
      insertAtCursor(composerOf(emoji).querySelector("textarea[name=text]"), emoji.dataset.emoji);
      emoji.closest("details").removeAttribute("open");
      measure(composerOf(emoji));
      return;
    }
    var dismiss = target.closest("[data-dismiss-panel]");
    if (dismiss) dismiss.closest(".ticket-panel").innerHTML = "";
  });

  // Enter sends on a keyboard; Shift+Enter is a new line. On a touch screen Enter is a new line.
  document.addEventListener("keydown", function (event) {
    var composer = composerOf(event.target);
    if (!composer || event.target.name !== "text") return;
    var list = composer.querySelector(".quick-replies");
    if (event.key === "Enter" && list && !list.hidden) {
      var first = list.querySelector("li:not([hidden]) button");
      if (first) {
        event.preventDefault();
        first.click();
        return;
      }
    }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && !matchMedia("(pointer: coarse)").matches) {
      event.preventDefault();
      if (!composer.querySelector("button.send").disabled) htmx.trigger(composer, "submit");
    }
  });

  // Attachments go up with a progress bar; the message then arrives like any other (the answer, or live).
  function upload(composer, input) {
    var file = input.files[0];
    var box = composer.querySelector(".upload");
    var bar = box.querySelector("progress");
    var error = composer.querySelector(".field-error");
    // Instagram's limit, checked before a phone spends minutes uploading what the server would refuse anyway.
    var limit = parseInt(file.type.indexOf("image/") === 0 ? input.dataset.imageLimit : input.dataset.fileLimit, 10);
    if (file.size > limit) {
      error.textContent = input.dataset.tooLarge.replace("{size}", Math.floor(limit / 1000000));
      input.value = "";
      return;
    }
    var body = new FormData();
    body.append("file", file);
    var request = new XMLHttpRequest();
    request.open("POST", composer.dataset.uploadUrl);
    request.setRequestHeader("X-CSRFToken", document.querySelector("meta[name=csrf-token]").content);
    request.setRequestHeader("HX-Request", "true");
    box.hidden = false;
    bar.value = 0;
    box.querySelector(".upload-name").textContent = file.name;
    error.textContent = "";
    request.upload.onprogress = function (event) {
      if (event.lengthComputable) bar.value = Math.round((100 * event.loaded) / event.total);
    };
    request.onload = function () {
      box.hidden = true;
      input.value = "";
      if (request.status >= 200 && request.status < 300) {
        placeAnswer(request.responseText);
      } else {
        var holder = document.createElement("template");
        holder.innerHTML = request.responseText;
        error.textContent = holder.content.textContent.trim() || request.statusText;
      }
    };
    request.onerror = function () {
      box.hidden = true;
      input.value = "";
      error.textContent = chat.dataset.uploadFailed;
    };
    request.send(body);
  }

  // A send's answer: the whole pane when answering took the ticket (head and composer change), else fragments that
  // go where live ones go.
  function placeAnswer(html) {
    if (html.indexOf('class="conversation"') !== -1) {
      pane.innerHTML = html;
      htmx.process(pane);
      paneChanged();
    } else if (html) {
      applyUpdate(html);
    }
  }

  // The composer and retry buttons answer with fragments that go where live ones go; a refusal shows under
  // the composer. Answering a waiting ticket takes it: then the whole pane comes back.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var form = event.detail.elt;
    if (!form.hasAttribute || !form.hasAttribute("data-live-update")) return;
    event.detail.shouldSwap = false;
    var status = event.detail.xhr.status;
    var composer = composerOf(form);
    var error = composer && composer.querySelector(".field-error");
    if (status >= 200 && status < 300) {
      placeAnswer(event.detail.serverResponse);
      if (composer) {
        var text = composer.querySelector("textarea[name=text]");
        if (text) {
          text.value = "";
          measure(composer);
        }
        if (error) error.textContent = "";
        var thread = document.getElementById("thread-" + composer.dataset.ticketId);
        if (thread) scrollToEnd(thread);
      }
    } else if (status === 422 || status === 404) {
      var holder = document.createElement("template");
      holder.innerHTML = event.detail.serverResponse;
      var words = holder.content.textContent.trim();
      if (error) error.textContent = words;
      else window.alert(words);
    }
  });

  // ---- list and pane ---------------------------------------------------------------------------------------

  function markOpenRow() {
    var ticketId = openTicketId();
    document.querySelectorAll(".ticket-row").forEach(function (row) {
      var open = row.dataset.ticketId === ticketId;
      row.classList.toggle("is-open", open);
      if (open) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    });
  }

  function paneChanged() {
    var ticketId = openTicketId();
    chat.classList.toggle("has-ticket", Boolean(ticketId));
    markOpenRow();
    if (ticketId) {
      var thread = document.getElementById("thread-" + ticketId);
      if (thread) scrollToEnd(thread);
      var composer = document.getElementById("composer-" + ticketId);
      if (composer) modeChanged(composer);
      if (document.title !== baseTitle && !document.hidden) {
        unread = 0;
        document.title = baseTitle;
      }
    }
    countdown();
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target === pane) return paneChanged();
    markOpenRow();
    countdown();
    document.querySelectorAll("form.composer").forEach(modeChanged);
  });
  document.addEventListener("htmx:historyRestore", function () {
    pane = document.getElementById("chat-pane");
    chat = document.getElementById("chat");
    paneChanged();
  });

  paneChanged();
  connect();
})();
