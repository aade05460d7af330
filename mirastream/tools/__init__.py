"""Tools the model can call, run by mirastream inside the stream.

- `FunctionTool`: a plain Python function (sync or async) or a pydantic model; any function
  or model put in `call_params.tools` becomes one.
- `CodeInterpreter`: lets the model run Python (a persistent Jupyter kernel) or shell code
  in a child process, with limits, confirmation and streamed output.

Importing this package starts nothing and imports no Jupyter code; sessions start on first use.
"""

from .code_interpreter import CodeInterpreter, ConfirmPolicy
from .execution.limits import Limits
from .function import FunctionTool, ToolArgumentsError, as_tool

__all__ = ["CodeInterpreter", "ConfirmPolicy", "FunctionTool", "Limits", "ToolArgumentsError", "as_tool"]
