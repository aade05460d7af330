"""The conversation kept across turns: each turn's messages, from its `Response`."""

from __future__ import annotations

from ..messages import Message
from ..responses import Response


def turn_messages(user: str, response: Response) -> list[Message]:
    """The messages a turn adds to the conversation: the user's, then each model turn and its tool results.

    They are the messages the tool loop itself sent, so the next turn continues the same
    conversation. An interrupted turn keeps what was complete: tool calls that got no result
    are dropped (providers reject a call without its result), and a turn that produced nothing
    adds nothing, not even the user's message.
    """
    messages = response.messages()
    return [Message(role="user", content=user), *messages] if messages else []
