// The sandbox page: people chat with the bot through the emulator (see bot/demo/web.py).
// Plain JS, no framework, nothing loaded from elsewhere. Everything a person reads is Chinese.
"use strict";

(() => {
  const STORE_KEY = "duban.sandbox.panes";
  const NARROW = window.matchMedia("(max-width: 760px)");
  const PALETTE = ["#e17076", "#7bc862", "#65aadd", "#a695e7", "#ee7aae", "#6ec9cb", "#faa774", "#5a9bd4"];

  const state = {
    sections: [],
    people: new Map(), // user id -> person view
    panes: new Map(), // user id -> Pane, in opening order
    active: null, // user id of the pane shown on a narrow screen
    epoch: null,
    seq: null, // number of the last live event seen: a skipped number means one was missed
    leaving: false, // the page is being reloaded or left: its requests are cut off
  };

  // ------------------------------------------------------------------ small helpers
  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "testid") node.dataset.testid = value;
      else if (key === "data") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of [].concat(children)) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  const $ = (selector, root = document) => root.querySelector(selector);

  async function api(method, path, body) {
    const options = { method, headers: {} };
    if (body instanceof FormData) {
      options.body = body;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (err) {
      throw new Error("无法连接沙盒，请确认 make demo 仍在运行");
    }
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = null;
    }
    if (!response.ok) {
      throw new Error((data && data.error) || `请求失败（${response.status}）`);
    }
    return data;
  }

  function toast(text, kind = "info") {
    const box = $(".toasts");
    const item = el("div", { class: `toast toast-${kind}`, testid: "toast", text });
    box.append(item);
    setTimeout(() => item.remove(), kind === "error" ? 6000 : 3500);
  }

  function colorFor(id) {
    return PALETTE[Math.abs(Number(id)) % PALETTE.length];
  }

  function avatar(person, size = "") {
    const node = el("span", { class: `avatar ${size}`, text: (person.name || "?").slice(0, 1), "aria-hidden": "true" });
    node.style.background = colorFor(person.id);
    return node;
  }

  // A modal with an optional text field; resolves to the text (or true) or null when cancelled.
  function ask({ title, body, input = null, ok = "确定", danger = false, cancel = true }) {
    const backdrop = $(".modal-backdrop");
    const field = $(".modal-input", backdrop);
    const okButton = $("[data-testid=modal-ok]", backdrop);
    const cancelButton = $("[data-testid=modal-cancel]", backdrop);
    $(".modal-title", backdrop).textContent = title;
    $(".modal-body", backdrop).textContent = body;
    okButton.textContent = ok;
    cancelButton.hidden = !cancel;
    okButton.classList.toggle("btn-danger", danger);
    okButton.classList.toggle("btn-primary", !danger);
    field.hidden = input === null;
    field.value = input && input.value ? input.value : "";
    field.placeholder = input && input.placeholder ? input.placeholder : "";
    backdrop.hidden = false;
    (input === null ? okButton : field).focus();
    return new Promise((resolve) => {
      const finish = (value) => {
        backdrop.hidden = true;
        okButton.onclick = cancelButton.onclick = field.onkeydown = backdrop.onclick = null;
        resolve(value);
      };
      okButton.onclick = () => {
        if (input !== null && !field.value.trim()) {
          field.focus();
          return;
        }
        finish(input === null ? true : field.value.trim());
      };
      cancelButton.onclick = () => finish(null);
      backdrop.onclick = (event) => {
        if (event.target === backdrop) finish(null);
      };
      field.onkeydown = (event) => {
        if (event.key === "Enter" && !event.isComposing) okButton.onclick();
        if (event.key === "Escape") finish(null);
      };
    });
  }

  // ------------------------------------------------------------------ icons (inline SVG)
  const SVG_NS = "http://www.w3.org/2000/svg";
  function icon(path) {
    const svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.classList.add("icon");
    const shape = document.createElementNS(SVG_NS, "path");
    shape.setAttribute("d", path);
    svg.append(shape);
    return svg;
  }
  const ICON_CLIP = "M16.5 6.5v10a4.5 4.5 0 0 1-9 0V5a3 3 0 0 1 6 0v10.5a1.5 1.5 0 0 1-3 0V6.5H9v9a3 3 0 0 0 6 0V5a4.5 4.5 0 0 0-9 0v11.5a6 6 0 0 0 12 0v-10z";
  const ICON_SEND = "M3.4 20.4 21 12 3.4 3.6 3.4 10.1l12.6 1.9-12.6 1.9z";
  const ICON_MENU = "M4 6h16v2H4zm0 5h16v2H4zm0 5h10v2H4z";
  const ICON_DOC = "M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zm0 2.5L17.5 8H14zM8 12h8v1.6H8zm0 3.5h8v1.6H8z";
  const ICON_PHOTO = "M21 19V5a2 2 0 0 0-2-2H5a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h14a2 2 0 0 0 2-2zM8.5 13.5l2.5 3 3.5-4.5 4.5 6H5z";

  // ------------------------------------------------------------------ the person picker
  function matches(person, groupTitle, query) {
    if (!query) return true;
    const hay = [person.name, person.subtitle, person.role, person.unit, person.title, groupTitle]
      .filter(Boolean)
      .join(" ");
    return hay.includes(query);
  }

  function renderPicker() {
    const list = $(".picker-list");
    const query = $(".picker-search").value.trim();
    list.replaceChildren();
    for (const section of state.sections) {
      const box = el("section", { class: "picker-section", testid: `section-${section.key}` }, [
        el("h3", { text: section.title }),
      ]);
      let shown = 0;
      for (const group of section.groups) {
        const people = group.people.filter((p) => matches(p, group.title, query));
        if (!people.length) continue;
        shown += people.length;
        const groupBox = el("div", {
          class: group.title ? "picker-group unit" : "picker-group",
          testid: group.title ? `unit-${group.title}` : null,
        });
        if (group.title) groupBox.append(el("div", { class: "group-title", text: group.title }));
        const row = el("div", { class: "group-people" });
        for (const person of people) row.append(personOption(person, Boolean(group.title)));
        groupBox.append(row);
        box.append(groupBox);
      }
      if (shown) list.append(box);
    }
    if (!list.children.length) list.append(el("p", { class: "picker-none", text: "没有找到匹配的人员" }));
  }

  function personOption(person, inUnit) {
    const label = inUnit ? person.role : person.subtitle;
    return el(
      "button",
      {
        type: "button",
        class: state.panes.has(person.id) ? "person open" : "person",
        testid: "person-option",
        data: { userId: person.id, name: person.name },
        title: `${person.name}（${person.subtitle}）`,
        onclick: () => openPane(person.id, { focus: true }),
      },
      [avatar(person, "small"), el("span", { class: "person-text" }, [el("span", { class: "person-name", text: person.name }), el("span", { class: "person-role", text: label })])],
    );
  }

  async function loadPeople() {
    const data = await api("GET", "/api/people");
    state.sections = data.sections;
    state.people.clear();
    for (const section of data.sections) {
      for (const group of section.groups) {
        for (const person of group.people) state.people.set(person.id, person);
      }
    }
    renderPicker();
  }

  function showPicker(show) {
    document.body.classList.toggle("picker-open", show);
    if (show) $(".picker-search").focus({ preventScroll: true });
  }

  // ------------------------------------------------------------------ chat panes
  class Pane {
    constructor(person) {
      this.id = person.id;
      this.person = person;
      this.messages = new Map(); // message id -> view
      this.commands = [];
      this.loading = new Set(); // one list per snapshot in flight: the live events seen meanwhile
      this.build();
    }

    build() {
      this.nameNode = el("div", { class: "pane-name", testid: "pane-name" });
      this.subNode = el("div", { class: "pane-sub" });
      this.avatarSlot = el("span", { class: "avatar-slot" });
      this.list = el("div", { class: "messages", testid: "messages", role: "log" });
      this.replyKeyboard = el("div", { class: "reply-keyboard", testid: "reply-keyboard", hidden: true });
      this.menu = el("div", { class: "popup command-menu", testid: "command-menu", hidden: true });
      this.attachMenu = el("div", { class: "popup attach-menu", testid: "attach-menu", hidden: true }, [
        el("button", { type: "button", class: "popup-item", testid: "attach-photo", onclick: () => this.pick("photo") }, [icon(ICON_PHOTO), el("span", { text: "照片" })]),
        el("button", { type: "button", class: "popup-item", testid: "attach-document", onclick: () => this.pick("document") }, [icon(ICON_DOC), el("span", { text: "文件" })]),
      ]);
      this.photoInput = el("input", { type: "file", accept: "image/*", hidden: true, testid: "photo-input" });
      this.documentInput = el("input", { type: "file", hidden: true, testid: "document-input" });
      this.photoInput.addEventListener("change", () => this.upload(this.photoInput, "photo"));
      this.documentInput.addEventListener("change", () => this.upload(this.documentInput, "document"));
      this.input = el("textarea", { class: "composer-input", rows: "1", placeholder: "输入消息…", testid: "message-input", "aria-label": "消息" });
      this.input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
          event.preventDefault();
          this.sendInput();
        }
      });
      this.input.addEventListener("input", () => this.autosize());
      this.menuButton = el("button", { type: "button", class: "menu-btn", testid: "menu-button", title: "命令菜单", onclick: () => this.toggle(this.menu) }, [icon(ICON_MENU), el("span", { text: "菜单" })]);
      const composer = el("form", { class: "composer", onsubmit: (event) => { event.preventDefault(); this.sendInput(); } }, [
        this.menuButton,
        this.input,
        el("button", { type: "button", class: "icon-btn attach-btn", testid: "attach-button", title: "发送照片或文件", "aria-label": "发送照片或文件", onclick: () => this.toggle(this.attachMenu) }, icon(ICON_CLIP)),
        el("button", { type: "submit", class: "icon-btn send-btn", testid: "send-button", title: "发送", "aria-label": "发送" }, icon(ICON_SEND)),
        this.photoInput,
        this.documentInput,
      ]);
      this.root = el("section", { class: "pane", testid: "pane", data: { userId: this.id } }, [
        el("header", { class: "pane-head" }, [
          this.avatarSlot,
          el("div", { class: "pane-title" }, [this.nameNode, this.subNode]),
          el("button", { type: "button", class: "icon-btn pane-close", testid: "pane-close", title: "关闭对话", "aria-label": "关闭对话", onclick: () => closePane(this.id) }, "×"),
        ]),
        this.list,
        this.menu,
        this.attachMenu,
        this.replyKeyboard,
        composer,
      ]);
      this.list.addEventListener("click", (event) => this.onListClick(event));
      this.tab = el("button", { type: "button", class: "tab", testid: "pane-tab", data: { userId: this.id }, onclick: () => setActive(this.id) });
      this.setPerson(this.person);
    }

    setPerson(person) {
      this.person = person;
      this.root.dataset.name = person.name;
      this.tab.dataset.name = person.name;
      this.nameNode.textContent = person.name;
      this.subNode.textContent = person.subtitle;
      this.avatarSlot.replaceChildren(avatar(person));
      this.tab.replaceChildren(avatar(person, "tiny"), el("span", { text: person.name }));
    }

    toggle(popup) {
      const show = popup.hidden;
      this.menu.hidden = true;
      this.attachMenu.hidden = true;
      if (show && popup === this.menu) this.renderMenu();
      popup.hidden = !show;
    }

    closePopups() {
      this.menu.hidden = true;
      this.attachMenu.hidden = true;
    }

    renderMenu() {
      const items = this.commands.map((c) =>
        el("button", { type: "button", class: "popup-item command-item", testid: "command-item", data: { command: c.command }, onclick: () => { this.closePopups(); this.send(`/${c.command}`); } }, [
          el("span", { class: "command-name", text: `/${c.command}` }),
          el("span", { class: "command-desc", text: c.description }),
        ]),
      );
      this.menu.replaceChildren(el("div", { class: "popup-title", text: "命令菜单" }), ...(items.length ? items : [el("div", { class: "popup-empty", text: "机器人没有为您设置命令" })]));
    }

    autosize() {
      this.input.style.height = "auto";
      this.input.style.height = `${Math.min(this.input.scrollHeight, 140)}px`;
    }

    // fresh: the chat was rebuilt (a reset), forget what was shown.
    async load(fresh = false) {
      if (fresh) this.messages.clear();
      // The snapshot may be taken before a live event that reaches the page before it does (an
      // edit made while it was on its way): live events seen meanwhile are applied again over it.
      const seen = [];
      this.loading.add(seen);
      this.list.setAttribute("aria-busy", "true");
      let snapshot;
      try {
        snapshot = await api("GET", `/api/chats/${this.id}`);
      } finally {
        this.loading.delete(seen);
        if (!this.loading.size) this.list.removeAttribute("aria-busy");
      }
      this.setPerson(snapshot.person);
      this.commands = snapshot.commands;
      this.setKeyboard(snapshot.keyboard);
      this.messages = new Map(snapshot.messages.map((m) => [m.id, m]));
      this.renderAll();
      for (const event of seen) this.apply(event);
      if (!this.menu.hidden) this.renderMenu();
    }

    // A live message, edit or delete for this chat.
    live(event) {
      for (const seen of this.loading) seen.push(event);
      this.apply(event);
    }

    apply(event) {
      if (event.type === "delete") this.remove(event.message_id);
      else this.upsert(event.message, event.keyboard);
    }

    async loadCommands() {
      const data = await api("GET", `/api/chats/${this.id}/commands`);
      this.commands = data.commands;
      if (!this.menu.hidden) this.renderMenu();
    }

    sorted() {
      return [...this.messages.values()].sort((a, b) => a.id - b.id);
    }

    nearBottom() {
      return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 80;
    }

    scrollDown() {
      this.list.scrollTop = this.list.scrollHeight;
    }

    renderAll() {
      const nodes = [];
      let day = null;
      for (const view of this.sorted()) {
        if (view.day !== day) {
          nodes.push(el("div", { class: "day-sep" }, el("span", { text: view.day })));
          day = view.day;
        }
        nodes.push(this.renderMessage(view));
      }
      if (!nodes.length) nodes.push(this.renderIntro());
      this.list.replaceChildren(...nodes);
      this.scrollDown();
    }

    renderIntro() {
      return el("div", { class: "intro", testid: "chat-intro" }, [
        el("div", { class: "intro-title", text: "督办助手" }),
        el("div", { class: "intro-text", text: "县政府督查室的督查督办助手。点击“开始”，或发送 /help 查看可用命令。" }),
        el("button", { type: "button", class: "btn btn-primary", testid: "start-button", onclick: () => this.send("/start") }, "开始"),
      ]);
    }

    upsert(view, keyboard) {
      if (keyboard !== undefined) this.setKeyboard(keyboard);
      const existing = this.messages.get(view.id);
      this.messages.set(view.id, view);
      const newest = Math.max(...this.messages.keys());
      if (existing) {
        const node = this.list.querySelector(`[data-message-id="${view.id}"]`);
        if (node) node.replaceWith(this.renderMessage(view));
        else this.renderAll();
        return;
      }
      if (view.id !== newest || this.messages.size === 1) {
        this.renderAll();
        return;
      }
      const follow = this.nearBottom() || !view.from_bot;
      const previous = this.sorted().at(-2);
      if (!previous || previous.day !== view.day) {
        this.list.append(el("div", { class: "day-sep" }, el("span", { text: view.day })));
      }
      this.list.append(this.renderMessage(view));
      if (follow) this.scrollDown();
      if (view.from_bot && document.body.classList.contains("narrow") && state.active !== this.id) {
        this.tab.classList.add("unread");
      }
    }

    remove(messageId) {
      if (!this.messages.delete(messageId)) return;
      this.renderAll();
    }

    renderMessage(view) {
      const bubble = el("div", { class: "bubble" });
      if (view.reply_to) {
        bubble.append(el("div", { class: "reply-quote", text: view.reply_to.text || "…" }));
      }
      if (view.photo) {
        const image = el("img", { class: "photo", src: view.photo.url, alt: "照片", loading: "lazy", testid: "message-photo" });
        image.addEventListener("load", () => {
          if (this.nearBottom() || view.id === Math.max(...this.messages.keys())) this.scrollDown();
        });
        bubble.append(el("a", { class: "photo-link", href: view.photo.url, target: "_blank", rel: "noopener", title: "查看原图" }, image));
      }
      if (view.document) {
        bubble.append(
          el("a", { class: "document", href: view.document.url, download: view.document.name, testid: "message-document", title: "下载文件" }, [
            el("span", { class: "doc-icon" }, icon(ICON_DOC)),
            el("span", { class: "doc-text" }, [el("span", { class: "doc-name", text: view.document.name }), el("span", { class: "doc-size", text: `${view.document.size} · 点击下载` })]),
          ]),
        );
      }
      if (view.html) {
        const text = el("div", { class: "text", testid: "message-text" });
        text.innerHTML = view.html; // sanitized on the server: Telegram's tags only
        bubble.append(text);
      }
      bubble.append(el("span", { class: "meta", text: view.edited ? `已编辑 ${view.time}` : view.time }));
      const row = el("div", { class: view.from_bot ? "msg bot" : "msg me", testid: "message", data: { messageId: view.id, from: view.from_bot ? "bot" : "user" } }, bubble);
      if (view.buttons.length) {
        const keyboard = el("div", { class: "inline-keyboard", testid: "inline-keyboard" });
        for (const buttons of view.buttons) {
          keyboard.append(el("div", { class: "kb-row" }, buttons.map((b) => this.renderButton(view, b))));
        }
        row.append(keyboard);
      }
      return row;
    }

    renderButton(view, button) {
      const props = { type: "button", class: `kb-btn kb-${button.kind}`, testid: "inline-button" };
      if (button.kind === "url") {
        return el("a", { class: "kb-btn kb-url", testid: "inline-button", href: button.url, target: "_blank", rel: "noopener noreferrer" }, button.text);
      }
      props.onclick = async (event) => {
        const target = event.currentTarget;
        if (button.kind === "copy") {
          try {
            await navigator.clipboard.writeText(button.copy);
            toast("已复制");
          } catch (err) {
            toast("无法复制到剪贴板", "error");
          }
          return;
        }
        if (button.kind !== "callback") {
          toast("沙盒不支持这种按钮", "error");
          return;
        }
        target.classList.add("pending");
        try {
          await api("POST", `/api/chats/${this.id}/tap`, { message_id: view.id, data: button.data });
        } catch (err) {
          toast(err.message, "error");
        } finally {
          target.classList.remove("pending");
        }
      };
      return el("button", props, button.text);
    }

    onListClick(event) {
      const link = event.target.closest("a.cmd, a.deeplink");
      if (!link) return;
      event.preventDefault();
      if (link.classList.contains("cmd")) {
        this.send(link.dataset.cmd);
      } else {
        const message = link.closest(".msg");
        const bold = message ? message.querySelector(".text b") : null;
        openDeepLink(link.dataset.start, bold ? bold.textContent : "");
      }
    }

    setKeyboard(rows) {
      if (!rows || !rows.length) {
        this.replyKeyboard.hidden = true;
        this.replyKeyboard.replaceChildren();
        return;
      }
      this.replyKeyboard.replaceChildren(
        ...rows.map((row) => el("div", { class: "kb-row" }, row.map((text) => el("button", { type: "button", class: "kb-btn", testid: "reply-button", onclick: () => this.send(text) }, text)))),
      );
      this.replyKeyboard.hidden = false;
    }

    async send(text) {
      try {
        const data = await api("POST", `/api/chats/${this.id}/send`, { text });
        this.upsert(data.message);
        this.scrollDown();
        return true;
      } catch (err) {
        toast(err.message, "error");
        return false;
      }
    }

    async sendInput() {
      const text = this.input.value;
      if (!text.trim()) return;
      this.input.value = "";
      this.autosize();
      if (!(await this.send(text))) this.input.value = text;
      this.input.focus();
    }

    pick(kind) {
      this.closePopups();
      (kind === "photo" ? this.photoInput : this.documentInput).click();
    }

    async upload(input, kind) {
      const file = input.files && input.files[0];
      input.value = "";
      if (!file) return;
      const form = new FormData();
      form.append("file", file, file.name);
      form.append("kind", kind);
      const caption = this.input.value.trim();
      if (caption) form.append("caption", caption);
      this.root.classList.add("uploading");
      try {
        const data = await api("POST", `/api/chats/${this.id}/upload`, form);
        this.input.value = "";
        this.autosize();
        this.upsert(data.message);
        this.scrollDown();
      } catch (err) {
        toast(err.message, "error");
      } finally {
        this.root.classList.remove("uploading");
      }
    }

    showAnswer(event) {
      if (!event.text) return;
      if (event.show_alert) {
        ask({ title: "督办助手", body: event.text, ok: "确定", cancel: false });
        return;
      }
      const note = el("div", { class: "pane-toast", testid: "callback-answer", text: event.text });
      this.root.append(note);
      setTimeout(() => note.remove(), 3500);
    }
  }

  function savePanes() {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify({ open: [...state.panes.keys()], active: state.active }));
    } catch (err) {
      /* private mode: nothing to remember */
    }
  }

  function renderLayout() {
    const panes = $(".panes");
    const tabs = $(".tabs");
    $("[data-testid=empty-state]").hidden = state.panes.size > 0;
    for (const pane of state.panes.values()) {
      if (pane.root.parentNode !== panes) panes.append(pane.root);
      if (pane.tab.parentNode !== tabs) tabs.insertBefore(pane.tab, $(".tab-add"));
      const active = pane.id === state.active;
      pane.root.classList.toggle("active", active);
      pane.tab.classList.toggle("active", active);
      if (active) pane.tab.classList.remove("unread");
    }
    renderPicker();
  }

  function setActive(id) {
    state.active = id;
    renderLayout();
    savePanes();
    const pane = state.panes.get(id);
    if (pane) {
      pane.scrollDown();
      if (!NARROW.matches) pane.root.scrollIntoView({ behavior: "smooth", inline: "nearest", block: "nearest" });
    }
  }

  async function openPane(id, { focus = false } = {}) {
    showPicker(false);
    let pane = state.panes.get(id);
    if (!pane) {
      const person = state.people.get(id) || { id, name: "…", subtitle: "" };
      pane = new Pane(person);
      state.panes.set(id, pane);
      renderLayout();
      savePanes(); // open from now on: a reload while its chat is still loading keeps it
      try {
        await pane.load();
      } catch (err) {
        if (state.leaving) return null; // cut off by a reload: the chat stays remembered as open
        toast(err.message, "error");
        closePane(id);
        return null;
      }
    }
    if (focus || state.active === null || !state.panes.has(state.active)) setActive(id);
    else savePanes();
    if (focus && !NARROW.matches) pane.input.focus({ preventScroll: true });
    return pane;
  }

  function closePane(id) {
    const pane = state.panes.get(id);
    if (!pane) return;
    pane.root.remove();
    pane.tab.remove();
    state.panes.delete(id);
    if (state.active === id) state.active = state.panes.size ? [...state.panes.keys()].at(-1) : null;
    renderLayout();
    savePanes();
  }

  async function openDeepLink(start, suggested) {
    const name = await ask({
      title: "打开邀请链接",
      body: "模拟被邀请人在自己的手机上打开这个链接：将新建一个尚未绑定的 Telegram 账号，并以它向机器人发送 /start。请输入这位新用户的姓名：",
      input: { value: suggested, placeholder: "姓名" },
      ok: "打开链接",
    });
    if (!name) return;
    try {
      const data = await api("POST", "/api/people", { name });
      state.people.set(data.person.id, data.person);
      const pane = await openPane(data.person.id, { focus: true });
      if (pane) await pane.send(`/start ${start}`);
      await loadPeople();
    } catch (err) {
      toast(err.message, "error");
    }
  }

  // ------------------------------------------------------------------ clock and reset
  function setClock(clock) {
    if (!clock) return;
    const time = $("[data-testid=clock-time]");
    time.textContent = clock.display;
    time.dataset.iso = clock.iso;
    $("[data-testid=clock-day]").textContent = clock.day_kind;
    $("[data-testid=clock-day]").classList.toggle("off", !clock.working);
  }

  async function clockAction(button, body) {
    button.disabled = true;
    try {
      setClock(await api("POST", "/api/clock", body));
    } catch (err) {
      toast(err.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  async function resetDemo(button) {
    const yes = await ask({
      title: "重置演示",
      body: "将清除所有对话、事项和数据，把沙盒时间拨回现在，恢复演示县的初始状态。确定重置吗？",
      ok: "重置",
      danger: true,
    });
    if (!yes) return;
    button.disabled = true;
    try {
      await api("POST", "/api/reset");
    } catch (err) {
      toast(err.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  // Everything again: after a reset, a restart of the sandbox, or a lost connection.
  async function refreshAll(fresh = false) {
    try {
      await loadPeople();
    } catch (err) {
      toast(err.message, "error");
      return;
    }
    for (const pane of [...state.panes.values()]) {
      try {
        await pane.load(fresh);
      } catch (err) {
        closePane(pane.id); // that person is gone (the county was reset)
      }
    }
  }

  let peopleTimer = null;
  function schedulePeopleReload() {
    clearTimeout(peopleTimer);
    peopleTimer = setTimeout(() => loadPeople().catch(() => {}), 200);
  }

  // ------------------------------------------------------------------ live updates
  function setConnection(connected) {
    const node = $("[data-testid=connection]");
    node.dataset.state = connected ? "open" : "lost";
    node.textContent = connected ? "已连接" : "连接中断，正在重连…";
  }

  function connect() {
    const source = new EventSource("/api/events");
    source.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (err) {
        return;
      }
      handleEvent(event);
    };
    source.onerror = () => setConnection(false);
  }

  function handleEvent(event) {
    if (event.type !== "hello" && typeof event.seq === "number") {
      const missed = state.seq !== null && event.seq !== state.seq + 1;
      state.seq = event.seq;
      // Missed one (never sent, or lost on the way): what is open is reloaded; this event is shown
      // now, and the snapshots taken later hold it too.
      if (missed) refreshAll();
    }
    switch (event.type) {
      case "hello": {
        setConnection(true);
        setClock(event.clock);
        const first = state.epoch === null;
        const changed = !first && state.epoch !== event.epoch;
        state.epoch = event.epoch;
        state.seq = event.seq;
        if (!first) refreshAll(changed); // reconnected: we may have missed events, or a reset
        break;
      }
      case "message":
      case "edit":
      case "delete": {
        const pane = state.panes.get(event.chat_id);
        if (pane) pane.live(event);
        break;
      }
      case "commands":
        // A menu changes when the bot binds someone (an invitation redeemed): names and roles
        // in the picker and the pane headers may have changed too.
        for (const pane of state.panes.values()) {
          if (event.chat_id === null) pane.loadCommands().catch(() => {});
          else if (event.chat_id === pane.id) pane.load().catch(() => {});
        }
        schedulePeopleReload();
        break;
      case "answer": {
        const pane = state.panes.get(event.user_id);
        if (pane) pane.showAnswer(event);
        break;
      }
      case "clock":
        setClock(event.clock);
        break;
      case "reset":
        state.epoch = event.epoch;
        setClock(event.clock);
        refreshAll(true).then(() => toast("演示已重置，演示县已恢复初始状态"));
        break;
      default:
        break;
    }
  }

  // ------------------------------------------------------------------ start
  function onNarrowChange() {
    document.body.classList.toggle("narrow", NARROW.matches);
    if (!NARROW.matches) showPicker(false);
  }

  async function start() {
    onNarrowChange();
    NARROW.addEventListener("change", onNarrowChange);
    $(".picker-search").addEventListener("input", renderPicker);
    $("[data-testid=open-picker]").addEventListener("click", () => showPicker(true));
    $("[data-testid=picker-close]").addEventListener("click", () => showPicker(false));
    for (const button of document.querySelectorAll("[data-hours]")) {
      button.addEventListener("click", () => clockAction(button, { hours: Number(button.dataset.hours) }));
    }
    const next = $("[data-testid=clock-next-workday]");
    next.addEventListener("click", () => clockAction(next, { to: "next_workday" }));
    const reset = $("[data-testid=reset]");
    reset.addEventListener("click", () => resetDemo(reset));
    document.addEventListener("click", (event) => {
      if (!event.target.closest(".popup, .menu-btn, .attach-btn")) {
        for (const pane of state.panes.values()) pane.closePopups();
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        for (const pane of state.panes.values()) pane.closePopups();
        showPicker(false);
      }
    });

    connect();
    // Sandbox time is real time plus an offset: keep the minutes moving.
    setInterval(() => api("GET", "/api/clock").then(setClock).catch(() => {}), 30000);
    try {
      await loadPeople();
    } catch (err) {
      toast(err.message, "error");
    }
    let saved = { open: [], active: null };
    try {
      saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null") || saved;
    } catch (err) {
      /* ignore a broken entry */
    }
    for (const id of saved.open || []) {
      if (state.people.has(id)) await openPane(id);
    }
    if (saved.active !== null && state.panes.has(saved.active)) setActive(saved.active);
    if (!state.panes.size && NARROW.matches) showPicker(true);
    document.body.dataset.ready = "true";
  }

  window.addEventListener("beforeunload", () => {
    state.leaving = true;
  });
  document.addEventListener("DOMContentLoaded", start);
})();
