"""Tools the model can call, run by mirastream inside the stream.

- `FunctionTool`: a plain Python function (sync or async) or a pydantic model; any function
  or model put in `call_params.tools` becomes one.
- `CodeInterpreter`: lets the model run Python (a persistent Jupyter kernel) or shell code
  in a child process, with limits, confirmation and streamed output.
- `HostedCodeInterpreter`: the provider's own code execution (OpenAI Responses, Anthropic,
  Gemini), run on its servers; its code and output stream as the same events.
- `Tool`: the protocol both implement; write your own tool against it (`BaseTool` gives the
  defaults), yielding its events and ending with a `ToolOutput`.

Importing this package starts nothing and imports no Jupyter code; sessions start on first use.
"""

from typing import TYPE_CHECKING

from .._lazy import lazy_names

if TYPE_CHECKING:
    from ._protocol import ArgumentWatcher, BaseTool, Prewarm, Tool, ToolArgumentsError, ToolOutput
    from .code_interpreter import CodeInterpreter, ConfirmPolicy
    from .execution.limits import Limits
    from .function import FunctionTool, as_tool
    from .hosted import HostedCodeInterpreter

_HOMES = {
    "CodeInterpreter": "code_interpreter",
    "ConfirmPolicy": "code_interpreter",
    "Limits": "execution.limits",
    "FunctionTool": "function",
    "HostedCodeInterpreter": "hosted",
    "ToolArgumentsError": "_protocol",
    "ArgumentWatcher": "_protocol",
    "BaseTool": "_protocol",
    "Prewarm": "_protocol",
    "Tool": "_protocol",
    "ToolOutput": "_protocol",
    "as_tool": "function",
}

__all__ = [
    "ArgumentWatcher",
    "BaseTool",
    "CodeInterpreter",
    "ConfirmPolicy",
    "FunctionTool",
    "HostedCodeInterpreter",
    "Limits",
    "Prewarm",
    "Tool",
    "ToolArgumentsError",
    "ToolOutput",
    "as_tool",
]


# Each tool loads on first use: a provider package reading `tools._specs` pays for none.
__getattr__ = lazy_names(__name__, _HOMES)
