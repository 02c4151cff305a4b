"""The Bot API methods the emulator implements, as a mixin of `Emulator` (see core.py).

Each `_m_<method>` gets the decoded parameters and the attach:// parts and returns the JSON
result, or raises ApiError with Telegram's error text. A method without `_m_` answers
"method not emulated". State (chats, files, commands...) lives on the Emulator.
"""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

from .files import MAX_DOWNLOAD, UploadedFile
from .host import EmulatorHost
from .markup import EntityParseError, parse_html, utf16_len
from .state import ApiError, ChatState, Params

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply "
    "markup are exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_COMMAND = re.compile(r"[a-z0-9_]{1,32}\Z")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}\Z")
_CONTENT_KEYS = ("text", "entities", "photo", "document", "caption", "caption_entities")
_GIFTS_OFF = {
    "unlimited_gifts": False,
    "limited_gifts": False,
    "unique_gifts": False,
    "premium_subscription": False,
    "gifts_from_channels": False,
}


class BotApiMethods(EmulatorHost):
    """Mixin: the Bot API side of the Emulator."""

    # ------------------------------------------------------------------ helpers
    def _chat(self, p: Params, key: str = "chat_id") -> ChatState:
        chat_id = self._chat_id(p.get(key))
        chat = self.chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _sendable_chat(self, p: Params) -> ChatState:
        chat = self._chat(p)
        if chat.type == "private":
            if chat.id in self.blocked:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            if chat.id not in self.started:
                raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        elif not chat.bot_member:
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    def _format(
        self, text: str, parse_mode: Any, entities: Any, *, caption: bool = False
    ) -> tuple[str, list, str | None]:
        """(plain text, entities, raw HTML or None) as Telegram would store them."""
        mode = (parse_mode or "").lower()
        html = None
        if mode == "html":
            try:
                plain, ents = parse_html(text)
            except EntityParseError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
            html = text
        elif mode in ("", "markdown", "markdownv2"):  # Markdown is stored verbatim, not parsed
            plain, ents = text, list(entities or [])
        else:
            raise ApiError(400, "Bad Request: unsupported parse_mode")
        if not caption and not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(plain) > (1024 if caption else 4096):
            raise ApiError(
                400, "Bad Request: message caption is too long" if caption else "Bad Request: message is too long"
            )
        return plain, ents, html

    def _caption(self, p: Params) -> tuple[dict, str | None]:
        caption = p.get_str("caption")
        if caption is None:
            return {}, None
        plain, ents, html = self._format(caption, p.get("parse_mode"), p.get_json("caption_entities"), caption=True)
        content: dict[str, Any] = {"caption": plain} if plain else {}
        if ents:
            content["caption_entities"] = ents
        return content, html

    def _inline_markup(self, p: Params) -> dict | None:
        markup = p.get_json("reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" not in markup:
            return None
        for row in markup["inline_keyboard"]:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not set(button) - {"text", "icon_custom_emoji_id", "style"}:
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
        return markup

    def _reply_target(self, chat: ChatState, p: Params) -> dict | None:
        params = p.get_json("reply_parameters")
        params = params if isinstance(params, dict) else {}
        message_id = params.get("message_id", p.get_int("reply_to_message_id"))
        if message_id is None:
            return None
        target = chat.messages.get(int(message_id))
        if target is None:
            if params.get("allow_sending_without_reply") or p.get_bool("allow_sending_without_reply"):
                return None
            raise ApiError(400, "Bad Request: message to be replied not found")
        return {k: v for k, v in target.items() if k != "reply_to_message"}

    def _bot_message(self, chat: ChatState, p: Params, content: dict, html: str | None) -> dict:
        reply_to = self._reply_target(chat, p)
        markup = self._inline_markup(p)
        other = p.get_json("reply_markup")
        if isinstance(other, dict) and "inline_keyboard" not in other:
            chat.reply_keyboard = other if "keyboard" in other else None
        msg = self._store(chat, self.bot_user, content, reply_to=reply_to, markup=markup)
        if html is not None:
            chat.html[msg["message_id"]] = html
        self.stats.messages_delivered += 1
        return msg

    def _input_file(self, value: Any, attachments: dict, kind: str) -> Any:
        """PhotoSize list (photo) or Document dict for an upload, attach:// URI or file_id."""
        if isinstance(value, str) and value.startswith("attach://"):
            value = attachments.get(value[len("attach://") :])
        if isinstance(value, UploadedFile):
            if not value.data:
                raise ApiError(400, "Bad Request: file must be non-empty")
            if kind == "photo":
                return self.files.add_photo(value.data)
            return self.files.add_document(value.data, value.filename, value.mime_type)
        if isinstance(value, str) and value:
            if value.startswith(("http://", "https://")):
                raise ApiError(400, "Bad Request: failed to get HTTP URL content")
            stored = self.files.get(value)
            if stored is None:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            if stored.kind != kind:
                raise ApiError(400, f"Bad Request: can't use file of type {stored.kind.title()} as {kind.title()}")
            return self.files.photo_sizes_of(stored) if kind == "photo" else self.files.document(stored)
        raise ApiError(400, f"Bad Request: there is no {kind} in the request")

    def _editable(self, p: Params) -> tuple[ChatState, dict]:
        if p.get("inline_message_id") is not None:
            raise ApiError(400, "Bad Request: inline messages are not emulated")
        chat = self._chat(p)
        msg = chat.messages.get(p.get_int("message_id", 0))
        if msg is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if msg["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, msg

    def _apply_edit(
        self, chat: ChatState, msg: dict, new: dict, keys: tuple[str, ...], markup: dict | None, html: str | None
    ) -> dict:
        if all(msg.get(k) == new.get(k) for k in keys) and msg.get("reply_markup") == markup:
            raise ApiError(400, NOT_MODIFIED)
        for key in keys:
            msg.pop(key, None)
            if new.get(key):
                msg[key] = new[key]
        msg.pop("reply_markup", None)  # editing without reply_markup removes the keyboard
        if markup is not None:
            msg["reply_markup"] = markup
        msg["edit_date"] = self._now()
        if keys:  # a markup-only edit keeps the text and its HTML
            if html is None:
                chat.html.pop(msg["message_id"], None)
            else:
                chat.html[msg["message_id"]] = html
        self._emit("edit", chat.id, msg)
        return msg

    def _scope_key(self, scope: Any) -> tuple:
        scope = scope if isinstance(scope, dict) else {"type": "default"}
        kind = scope.get("type", "default")
        if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
            return (kind,)
        if kind in ("chat", "chat_administrators", "chat_member"):
            chat = self._chat(Params(scope))
            if kind == "chat_member":
                return (kind, chat.id, Params(scope).get_int("user_id"))
            return (kind, chat.id)
        raise ApiError(400, "Bad Request: wrong bot command scope type specified")

    @staticmethod
    def _language(p: Params) -> str:
        return (p.get_str("language_code") or "").lower()

    def effective_commands(self, chat_id: int, user_id: int | None = None) -> list[dict]:
        """The command menu a user sees in a chat, resolved in Telegram's scope order."""
        chat = self.chats[chat_id]
        user_id = user_id if user_id is not None else chat_id
        language = (self.users.get(user_id, {}).get("language_code") or "").split("-")[0].lower()
        if chat.type == "private":
            scopes = [("chat", chat.id), ("all_private_chats",), ("default",)]
        else:
            admin = user_id in chat.admins
            scopes = [("chat_member", chat.id, user_id)]
            scopes += [("chat_administrators", chat.id)] if admin else []
            scopes += [("chat", chat.id)]
            scopes += [("all_chat_administrators",)] if admin else []
            scopes += [("all_group_chats",), ("default",)]
        for scope in scopes:
            for lang in ([language] if language else []) + [""]:
                if self.commands.get((scope, lang)):
                    return copy.deepcopy(self.commands[(scope, lang)])
        return []

    # ------------------------------------------------------------------ Bot API methods
    # Each `_m_<method>` gets decoded Params and attach:// parts; returns the JSON result or
    # raises ApiError. Missing ones answer "method not emulated".
    async def _m_getMe(self, p: Params, att: dict) -> dict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.group_privacy,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_getUpdates(self, p: Params, att: dict) -> list[dict]:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.get_int("offset")
        limit = min(max(p.get_int("limit", 100), 1), 100)
        timeout = max(p.get_int("timeout", 0) or 0, 0)
        if p.get("allowed_updates") is not None:
            self._allowed = list(p.get_json("allowed_updates") or [])
        if offset is not None:
            before = len(self._pending)
            if offset < 0:
                del self._pending[:offset]
            else:  # an offset confirms every update before it
                self._pending = [u for u in self._pending if u["update_id"] >= offset]
            if len(self._pending) != before:
                self._bump()
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            batch = [u for u in self._pending if offset is None or offset < 0 or u["update_id"] >= offset][:limit]
            remaining = deadline - asyncio.get_running_loop().time()
            if batch or remaining <= 0 or self._closed:
                return copy.deepcopy(batch)
            await self._wait_change(remaining)
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )

    async def _m_setWebhook(self, p: Params, att: dict) -> bool:
        url = p.get_str("url", "")
        if not url:
            return await self._m_deleteWebhook(p, att)
        if not url.startswith(("http://", "https://")):  # http allowed: everything is local here
            raise ApiError(400, "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = p.get_str("secret_token")
        if secret is not None and not _SECRET.match(secret):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if p.get_bool("drop_pending_updates"):
            self._pending.clear()
        if p.get("allowed_updates") is not None:
            self._allowed = list(p.get_json("allowed_updates") or [])
        self.webhook = {"url": url, "secret_token": secret, "max_connections": p.get_int("max_connections", 40)}
        if self._webhook_task is None or self._webhook_task.done():
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())
        self._bump()
        return True

    async def _m_deleteWebhook(self, p: Params, att: dict) -> bool:
        self.webhook = None
        if p.get_bool("drop_pending_updates"):
            self._pending.clear()
        self._bump()
        return True

    async def _m_getWebhookInfo(self, p: Params, att: dict) -> dict:
        info = {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook:
            for key in ("last_error_date", "last_error_message", "max_connections"):
                if self.webhook.get(key) is not None:
                    info[key] = self.webhook[key]
        if self._allowed:
            info["allowed_updates"] = list(self._allowed)
        return info

    async def _m_sendMessage(self, p: Params, att: dict) -> dict:
        chat = self._sendable_chat(p)
        text, entities, html = self._format(p.get_str("text", ""), p.get("parse_mode"), p.get_json("entities"))
        content: dict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._bot_message(chat, p, content, html)

    async def _m_sendPhoto(self, p: Params, att: dict) -> dict:
        chat = self._sendable_chat(p)
        caption, html = self._caption(p)
        photo = self._input_file(p.get("photo"), att, "photo")
        return self._bot_message(chat, p, {"photo": photo, **caption}, html)

    async def _m_sendDocument(self, p: Params, att: dict) -> dict:
        chat = self._sendable_chat(p)
        caption, html = self._caption(p)
        document = self._input_file(p.get("document"), att, "document")
        return self._bot_message(chat, p, {"document": document, **caption}, html)

    async def _m_sendMediaGroup(self, p: Params, att: dict) -> list[dict]:
        chat = self._sendable_chat(p)
        media = p.get_json("media") or []
        if not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media items: must be 2-10")
        group_id = str(next(self._media_groups))
        prepared = []
        for item in media:  # validate everything before storing anything
            kind = item.get("type")
            if kind not in ("photo", "document"):
                raise ApiError(400, f"Bad Request: media type {kind!r} is not emulated")
            caption, html = self._caption(Params(item))
            prepared.append(
                ({kind: self._input_file(item.get("media"), att, kind), "media_group_id": group_id, **caption}, html)
            )
        return [self._bot_message(chat, p, content, html) for content, html in prepared]

    async def _m_copyMessage(self, p: Params, att: dict) -> dict:
        msg = await self._copy_or_forward(p, forward=False)
        return {"message_id": msg["message_id"]}

    async def _m_forwardMessage(self, p: Params, att: dict) -> dict:
        return await self._copy_or_forward(p, forward=True)

    async def _copy_or_forward(self, p: Params, forward: bool) -> dict:
        chat = self._sendable_chat(p)
        source = self._chat(p, "from_chat_id").messages.get(p.get_int("message_id", 0))
        if source is None:
            raise ApiError(
                400,
                "Bad Request: message to forward not found" if forward else "Bad Request: message to copy not found",
            )
        content = {k: copy.deepcopy(source[k]) for k in _CONTENT_KEYS if k in source}
        if not content:
            raise ApiError(
                400, "Bad Request: message can't be forwarded" if forward else "Bad Request: message can't be copied"
            )
        html = None
        if forward:
            origin = {"type": "user", "sender_user": source["from"], "date": source["date"]}
            content = {"forward_origin": origin, **content}
        elif p.get("caption") is not None:
            content.pop("caption_entities", None)
            caption, html = self._caption(p)
            content.pop("caption", None)
            content.update(caption)
        return self._bot_message(chat, p, content, html)

    async def _m_editMessageText(self, p: Params, att: dict) -> dict:
        chat, msg = self._editable(p)
        if "text" not in msg:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text, entities, html = self._format(p.get_str("text", ""), p.get("parse_mode"), p.get_json("entities"))
        return self._apply_edit(
            chat, msg, {"text": text, "entities": entities or None}, ("text", "entities"), self._inline_markup(p), html
        )

    async def _m_editMessageCaption(self, p: Params, att: dict) -> dict:
        chat, msg = self._editable(p)
        if not ("photo" in msg or "document" in msg):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, html = self._caption(p)
        return self._apply_edit(chat, msg, caption, ("caption", "caption_entities"), self._inline_markup(p), html)

    async def _m_editMessageReplyMarkup(self, p: Params, att: dict) -> dict:
        chat, msg = self._editable(p)
        return self._apply_edit(chat, msg, {}, (), self._inline_markup(p), None)

    async def _m_deleteMessage(self, p: Params, att: dict) -> bool:
        chat = self._chat(p)
        message_id = p.get_int("message_id", 0)
        msg = chat.messages.get(message_id)
        if msg is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        own = msg["from"]["id"] == self.bot_id
        if not own and chat.type != "private" and self.bot_id not in chat.admins:
            raise ApiError(400, "Bad Request: message can't be deleted")
        del chat.messages[message_id]
        chat.html.pop(message_id, None)
        self._emit("delete", chat.id, {"message_id": message_id})
        return True

    async def _m_answerCallbackQuery(self, p: Params, att: dict) -> bool:
        query_id = p.get_str("callback_query_id", "")
        query = self.callback_queries.get(query_id)
        if query is None or query_id in self.callback_answers:
            raise ApiError(400, _QUERY_INVALID)
        answer = {
            "text": p.get_str("text"),
            "show_alert": p.get_bool("show_alert"),
            "url": p.get_str("url"),
            "cache_time": p.get_int("cache_time", 0),
            "user_id": query["from"]["id"],
        }
        self.callback_answers[query_id] = answer
        chat = query.get("message", {}).get("chat", {}).get("id")
        self._emit("callback_answer", chat, {"callback_query_id": query_id, **answer})
        return True

    async def _m_getFile(self, p: Params, att: dict) -> dict:
        stored = self.files.get(p.get_str("file_id", ""))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return stored.file_json()

    async def _m_setMyCommands(self, p: Params, att: dict) -> bool:
        commands = p.get_json("commands") or []
        for command in commands:
            if not _COMMAND.match(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = (self._scope_key(p.get_json("scope")), self._language(p))
        if commands:
            self.commands[key] = [{"command": c["command"], "description": c["description"]} for c in commands]
        else:
            self.commands.pop(key, None)
        self._emit(
            "commands",
            key[0][1] if len(key[0]) > 1 else None,
            {"scope": list(key[0]), "language_code": key[1], "commands": commands},
        )
        return True

    async def _m_getMyCommands(self, p: Params, att: dict) -> list[dict]:
        key = (self._scope_key(p.get_json("scope")), self._language(p))
        return copy.deepcopy(self.commands.get(key, []))

    async def _m_deleteMyCommands(self, p: Params, att: dict) -> bool:
        self.commands.pop((self._scope_key(p.get_json("scope")), self._language(p)), None)
        return True

    async def _m_setChatMenuButton(self, p: Params, att: dict) -> bool:
        button = p.get_json("menu_button")
        if p.get("chat_id") is None:
            self.profile["menu_button"] = button or {"type": "default"}
        else:
            self._chat(p).menu_button = button
        return True

    async def _m_getChatMenuButton(self, p: Params, att: dict) -> dict:
        if p.get("chat_id") is not None:
            button = self._chat(p).menu_button
            if button:
                return button
        return self.profile.get("menu_button") or {"type": "default"}

    async def _m_setMyName(self, p: Params, att: dict) -> bool:
        self.profile["name"] = dict(p)
        return True

    async def _m_setMyDescription(self, p: Params, att: dict) -> bool:
        self.profile["description"] = dict(p)
        return True

    async def _m_setMyShortDescription(self, p: Params, att: dict) -> bool:
        self.profile["short_description"] = dict(p)
        return True

    async def _m_getChat(self, p: Params, att: dict) -> dict:
        chat = self._chat(p)
        return {**chat.json(), "accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": dict(_GIFTS_OFF)}

    async def _m_getChatMember(self, p: Params, att: dict) -> dict:
        chat = self._chat(p)
        user_id = p.get_int("user_id")
        if user_id is None:
            raise ApiError(400, "Bad Request: user not found")
        user = self.bot_user if user_id == self.bot_id else self.users.get(user_id)
        if user is None:
            raise ApiError(400, "Bad Request: user not found")
        if user_id in chat.admins:
            rights = dict.fromkeys(
                (
                    "can_be_edited",
                    "is_anonymous",
                    "can_manage_video_chats",
                    "can_restrict_members",
                    "can_promote_members",
                    "can_change_info",
                    "can_invite_users",
                    "can_post_stories",
                    "can_edit_stories",
                    "can_delete_stories",
                ),
                False,
            )
            return {
                "status": "administrator",
                "user": dict(user),
                **rights,
                "can_manage_chat": True,
                "can_delete_messages": True,
            }
        member = chat.bot_member if user_id == self.bot_id else user_id in chat.members or chat.type == "private"
        return {"status": "member" if member else "left", "user": dict(user)}

    async def _m_sendChatAction(self, p: Params, att: dict) -> bool:
        self._sendable_chat(p)
        return True
