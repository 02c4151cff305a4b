"""Files people read outside the chat: Word (``word``), Excel (``excel``, ``xlsx``) and the
digest chart (``chart``). Built from the database; the domain never imports them."""
