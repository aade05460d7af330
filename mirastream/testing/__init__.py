"""Test your prompt classes offline: a scripted model and recorded streams, through the real SDKs.

A `ReplayServer` listens on 127.0.0.1 and answers the real OpenAI, Anthropic and Gemini SDKs
with queued replies: scripted `Turn`s (written in each provider's own wire format when the
request arrives), `ErrorReply`s, or recorded SSE transcripts (`Reply.transcript`). It
records every request, so a test can also check what was sent. `serve()` points prompt
classes at a server for the length of a `with` block; `mirastream.testing.pytest_plugin`
offers the same as a pytest fixture.

```python
from mirastream.testing import Text, Turn, serve

with serve(RecipeRecommender) as server:
    server.queue(Turn(Text("Apple", " pie."), usage=(12, 3)))
    response = RecipeRecommender(ingredient="apples").stream().collect()
assert response.text == "Apple pie."
```

Importing this package loads no provider SDK, and `import mirastream` does not import it.
"""

from ._render import Scripted, render
from ._reply import RecordedRequest, Reply
from ._script import Call, Disconnect, ErrorEvent, ErrorReply, Pause, Step, Text, Thinking, Turn
from ._serve import Target, serve
from ._server import Provider, Queued, ReplayServer, Responder
from ._wire import Wire

__all__ = [
    "Call",
    "Disconnect",
    "ErrorEvent",
    "ErrorReply",
    "Pause",
    "Provider",
    "Queued",
    "RecordedRequest",
    "ReplayServer",
    "Reply",
    "Responder",
    "Scripted",
    "Step",
    "Target",
    "Text",
    "Thinking",
    "Turn",
    "Wire",
    "render",
    "serve",
]
